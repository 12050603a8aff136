"""Policies find enterprises (政策找企业): rule language, matching, push, instant approval (秒批)."""
