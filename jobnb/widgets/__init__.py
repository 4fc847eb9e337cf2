"""What people see: a live widget for each job (and, to come, the dashboard).

Imported only when a Job is first displayed in a notebook: ipywidgets is heavy.
"""
