"""(issue 14/16: being written)"""
