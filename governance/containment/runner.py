"""(issue 13: filled in by the containment work)"""
