"""metrics/catalogue"""
