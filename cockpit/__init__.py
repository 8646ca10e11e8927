"""cockpit"""
