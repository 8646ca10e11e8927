"""数据填报: reporters fill the forms due for them; city staff see who has reported and lock periods.

The view is in the URL (``?form=…&period=…&region=…``; ``department=`` for a
departments form), so a reminder's link opens the right form, period and
reporter. In the open demo the page acts as city staff, with a picker to act
as one reporter.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd
import streamlit as st

from cockpit.ui import audit_action, page_start, rows_and_notes, set_query
from metrics import periods
from metrics.forms import (
    STATUS_WORDS,
    TYPE_WORDS,
    FormError,
    FormStore,
    RawRow,
    Reporter,
    board,
    check_rows,
    covers,
    due_date,
    field_rules,
    field_usage,
    form_name,
    form_sources,
    import_file,
    import_rows,
    recent_periods,
    reporters,
    status_of,
    write_template,
)

ICONS = {"submitted": "✅ 已报", "late": "⚠️ 逾期", "missing": "❌ 未报"}

cat, scope, _data = page_start("数据填报")
store = FormStore.for_catalogue(cat)
forms = form_sources(cat)
user_id = scope.user.id if scope.user is not None else "demo"
now = dt.datetime.now().replace(microsecond=0)
q = st.query_params

flash = st.session_state.pop("forms_flash", None)
if flash:
    st.success(flash, icon="✅")

if not forms:
    st.info(
        "本配置没有填报表（`type: form` 的数据源）。在 indicators.yaml 的 sources 中声明后，这里即可在线填报。"
    )
    st.stop()


def _refresh(message: str) -> None:
    """After a write: the indicators read the new rows on the next page, and the page redraws."""
    rows_and_notes.clear()
    st.session_state["forms_flash"] = message
    st.rerun()


# ---------------------------------------------------------------- which form, which period, who
ids = list(forms)
c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
form_id = c1.selectbox(
    "填报表",
    ids,
    index=ids.index(q["form"]) if q.get("form") in forms else 0,
    format_func=lambda i: form_name(forms[i], i),
    key="pick_form",
)
form = forms[form_id]
options = recent_periods(form, now.date(), 12)
asked = q.get("period")
if asked and asked not in options:
    try:
        if periods.grain_of(asked) == form.grain and periods.to_period(asked, form.grain) == asked:
            options = sorted({*options, asked}, key=periods.ordinal, reverse=True)
    except ValueError:
        st.warning(f"期间 {asked} 无法识别，已显示最近一期。", icon="🔗")
period = c2.selectbox(
    "期间",
    options,
    index=options.index(asked) if asked in options else 0,
    format_func=periods.label,
    key="pick_form_period",
)
set_query(form=form_id, period=period)

all_reps = reporters(cat, form)
mine = [r for r in all_reps if covers(scope, r)]
staff = scope.departments  # the root in scope: the city's staff (everyone in the open demo)
kind_param = "department" if form.reporters == "departments" else "region"
asked_rep = q.get(kind_param)

if staff:
    roles = ["完成情况（市级）", "填报（区县/部门）"]
    role = c3.segmented_control(
        "身份",
        roles,
        default=roles[1] if asked_rep in {r.id for r in mine} else roles[0],
        key="forms_role",
        help="演示模式下可切换为某一填报单位进行填报" if scope.is_open else None,
    )
    reporting = role == roles[1]
else:
    reporting = True
if not mine:
    st.info("您的权限范围内没有这张表的填报单位。")
    st.stop()

due = due_date(form, period)
locked = store.is_locked(form_id, period)


# ---------------------------------------------------------------- the reporter's view
def _frame(rep: Reporter) -> pd.DataFrame:
    sub = store.get(form_id, period, rep)
    values = sub.values if sub is not None else {}
    cols: dict[str, Any] = {}
    for f in form.fields:
        v = values.get(f.id)
        if f.type == "integer":
            cols[f.id] = pd.array([v], dtype="Int64")
        elif f.type == "number":
            cols[f.id] = pd.array([v], dtype="Float64")
        elif f.type == "date":
            cols[f.id] = pd.to_datetime(pd.Series([v]), errors="coerce")
        else:
            cols[f.id] = pd.Series([v], dtype="object")
    return pd.DataFrame(cols)


def _column_config() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in form.fields:
        label = f"{f.name}（{f.unit}）" if f.unit else f.name
        help_text = field_rules(f) + (f"。{f.help}" if f.help else "")
        if f.type in ("integer", "number"):
            out[f.id] = st.column_config.NumberColumn(
                label,
                help=help_text,
                min_value=f.min,
                max_value=f.max,
                step=1 if f.type == "integer" else None,
                format="%d" if f.type == "integer" else None,
                required=f.required,
            )
        elif f.type == "choice":
            out[f.id] = st.column_config.SelectboxColumn(
                label, help=help_text, options=f.choices or [], required=f.required
            )
        elif f.type == "date":
            out[f.id] = st.column_config.DateColumn(label, help=help_text, required=f.required)
        else:
            out[f.id] = st.column_config.TextColumn(label, help=help_text, required=f.required)
    return out


def _cell(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v.item() if hasattr(v, "item") else v


def _errors_text(errors: list[Any]) -> str:
    names = {f.id: f.name for f in form.fields} | {"period": "期间", "region": "地区", "department": "部门"}
    return "\n".join(f"- **{names.get(e.field, e.field)}**：{e.message}" for e in errors)


def reporter_view(rep: Reporter) -> None:
    st.subheader(f"{rep.name} · {form_name(form, form_id)} · {periods.label(period)}")
    # the forms due for this reporter, with their deadlines
    due_rows = []
    for fid, f in forms.items():
        if rep.id not in {r.id for r in reporters(cat, f)}:
            continue
        p = recent_periods(f, now.date(), 1)[0]
        st_ = next(s for s in status_of(cat, store, fid, p) if s.reporter.id == rep.id)
        word = STATUS_WORDS[st_.status] + ("（有草稿）" if st_.draft else "")
        due_rows.append(
            {
                "填报表": form_name(f, fid),
                "期间": periods.label(p),
                "截止日期": due_date(f, p).isoformat(),
                "状态": word,
            }
        )
    if due_rows:
        st.caption("本单位待报送")
        st.dataframe(pd.DataFrame(due_rows), hide_index=True, width="stretch")

    sub = store.get(form_id, period, rep)
    state = (
        "已提交" if sub is not None and sub.status == "submitted" else "草稿" if sub is not None else "未填报"
    )
    days = (due - now.date()).days
    when = f"还有 {days} 天" if days > 0 else "今天截止" if days == 0 else f"已逾期 {-days} 天"
    line = f"截止日期：**{due.isoformat()}**（{when if state != '已提交' else '已报送'}） · 状态：**{state}**"
    if sub is not None and sub.submitted_at:
        line += f" · 最近提交：{sub.submitted_at}（{sub.submitted_by}）"
    st.markdown(line)
    if locked:
        st.info(f"{periods.label(period)}已锁定，不能再修改；如需更正请联系市级管理员重新开放。", icon="🔒")

    version = store.fingerprint(form_id)
    edited = st.data_editor(
        _frame(rep),
        column_config=_column_config(),
        hide_index=True,
        num_rows="fixed",
        disabled=locked,
        width="stretch",
        key=f"editor_{form_id}_{period}_{rep.id}_{version}",
    )
    values = {f.id: _cell(edited.iloc[0][f.id]) for f in form.fields}
    raw = RawRow(None, period, rep.id, values)
    touched = any(v not in (None, "") for v in values.values())
    problems: list[Any] = []
    if touched and not locked:
        _, problems = check_rows(form, [raw], form_id=form_id, known=all_reps)
        if problems:
            st.error("请更正以下问题后再提交：\n\n" + _errors_text(problems), icon="✏️")
    submitted = sub is not None and sub.status == "submitted"
    b1, b2, _ = st.columns([1, 1, 4])
    save_draft = b1.button("保存草稿", disabled=locked or submitted, key="forms_draft")
    submit = b2.button(
        "提交修改" if submitted else "提交", type="primary", disabled=locked, key="forms_submit"
    )
    if save_draft or submit:
        status = "submitted" if submit else "draft"
        try:
            result = import_rows(
                cat,
                store,
                form_id,
                [raw],
                user=user_id,
                now=dt.datetime.now().replace(microsecond=0),
                scope=None if scope.is_open else scope,
                allowed={rep.id},
                status=status,
                origin="page",
            )
        except FormError as e:
            st.error(str(e))
        else:
            if result.ok:
                _refresh(f"{rep.name} {periods.label(period)} 已{'提交' if submit else '保存草稿'}。")
            else:
                st.error(("无法提交：" if submit else "无法保存：") + "\n\n" + _errors_text(result.errors))

    with st.expander("用 Excel 模板填报"):
        buf = io.BytesIO()
        write_template(cat, form_id, buf)
        st.download_button(
            "下载填报模板（Excel）",
            buf.getvalue(),
            file_name=f"{form_name(form, form_id)}模板.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key="forms_template",
            on_click=lambda: audit_action(
                cat, scope, "export", what="form_template", form=form_id, format="xlsx"
            ),
        )
        st.caption(
            "第一行为表头（period、地区代码、各填报项），从第二行起每个填报单位一行；上传后逐行校验，有错则整份不导入。"
        )
        upload = st.file_uploader(
            "上传填好的模板", type=["xlsx", "csv"], key=f"forms_upload_{form_id}", disabled=locked
        )
        if upload is not None and st.button("导入并提交", key="forms_import"):
            try:
                result = import_file(
                    cat,
                    store,
                    form_id,
                    io.BytesIO(upload.getvalue()),
                    user=user_id,
                    now=dt.datetime.now().replace(microsecond=0),
                    scope=None if scope.is_open else scope,
                    allowed={rep.id},
                    name=upload.name,
                )
            except FormError as e:
                st.error(str(e))
            else:
                if result.ok:
                    _refresh(f"已从 {upload.name} 导入 {result.stored} 行。")
                else:
                    st.error(
                        "文件有误，未导入任何数据：\n\n" + "\n".join(f"- {e.text}" for e in result.errors)
                    )

    changes = store.history(form_id, period, rep)
    with st.expander(f"修改记录（{len(changes)}）"):
        names = {f.id: f.name for f in form.fields}
        actions = {"submit": "提交", "draft": "草稿", "import": "导入", "seed": "历史数据"}
        rows = [
            {
                "时间": c.at,
                "用户": c.user,
                "操作": actions.get(c.action, c.action),
                "变更": "；".join(
                    f"{names.get(k, k)}：{'' if o is None else o} → {'' if n is None else n}"
                    for k, o, n in c.changed()
                ),
            }
            for c in reversed(changes)
        ]
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        else:
            st.caption("暂无记录。")


# ---------------------------------------------------------------- the city staff's view
def staff_view() -> None:
    found = status_of(cat, store, form_id, period)
    st.subheader(f"{form_name(form, form_id)} · {periods.label(period)} 完成情况")
    st.caption(
        f"截止日期 {due.isoformat()}；按首次提交时间判断是否逾期。" + (" 本期已锁定。" if locked else "")
    )
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("已报", sum(s.status == "submitted" for s in found), border=True)
    m2.metric("逾期", sum(s.status == "late" for s in found), border=True)
    m3.metric("未报", sum(s.status == "missing" for s in found), border=True)
    m4.metric("填报单位", len(found), border=True)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "代码": s.reporter.id,
                    "单位": s.reporter.name,
                    "状态": ICONS[s.status] + ("（有草稿）" if s.draft else ""),
                    "首次提交": s.submitted_at or "",
                }
                for s in found
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    recent = recent_periods(form, now.date(), 6)
    grid = board(cat, store, form_id, recent)
    matrix = [
        {"单位": rep.name, **{periods.label(p): ICONS[grid[p][k].status] for p in recent}}
        for k, rep in enumerate(all_reps)
    ]
    st.caption("近六期")
    st.dataframe(pd.DataFrame(matrix), hide_index=True, width="stretch")

    st.subheader("锁定与重新开放")
    log = store.lock_log(form_id, period)
    if not locked:
        reason = st.text_input("锁定说明（可选）", key="forms_lock_reason")
        if st.button("锁定本期", key="forms_lock"):
            try:
                store.lock(form_id, period, user=user_id, now=dt.datetime.now(), reason=reason or None)
            except FormError as e:
                st.error(str(e))
            else:
                _refresh(f"{periods.label(period)}已锁定。")
    else:
        last = log[-1] if log else None
        if last is not None:
            st.info(f"{last.at} 由 {last.user} 锁定" + (f"：{last.reason}" if last.reason else ""), icon="🔒")
        reason = st.text_input("重新开放原因（必填）", key="forms_reopen_reason")
        if st.button("重新开放", key="forms_reopen"):
            if not reason.strip():
                st.error("请填写重新开放的原因。")
            else:
                try:
                    store.reopen(form_id, period, user=user_id, now=dt.datetime.now(), reason=reason)
                except FormError as e:
                    st.error(str(e))
                else:
                    _refresh(f"{periods.label(period)}已重新开放。")
    if log:
        with st.expander(f"锁定记录（{len(log)}）"):
            words = {"lock": "锁定", "reopen": "重新开放"}
            st.dataframe(
                pd.DataFrame(
                    [
                        {"时间": e.at, "用户": e.user, "操作": words[e.action], "原因": e.reason or ""}
                        for e in log
                    ]
                ),
                hide_index=True,
                width="stretch",
            )

    with st.expander("一张表：填报项与使用它的指标"):
        uses = field_usage(cat).get(form_id, {})
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "填报项": f.name,
                        "代码": f.id,
                        "类型与规则": field_rules(f) if f.type in TYPE_WORDS else f.type,
                        "使用该项的指标": "、".join(cat.indicators[i].name for i in uses.get(f.id, []))
                        or "—",
                    }
                    for f in form.fields
                ]
            ),
            hide_index=True,
            width="stretch",
        )


# ---------------------------------------------------------------- draw
if reporting:
    rep_ids = [r.id for r in mine]
    chosen = st.selectbox(
        "填报单位",
        rep_ids,
        index=rep_ids.index(asked_rep) if asked_rep in rep_ids else 0,
        format_func=lambda i: next(r.name for r in mine if r.id == i),
        key="pick_reporter",
    )
    set_query(**{kind_param: chosen})
    reporter_view(next(r for r in mine if r.id == chosen))
else:
    set_query(region=None, department=None)
    staff_view()
