"""What people see: a live widget for each job, the dashboard, and the monitor that
feeds them (style.py holds their look; display.py shows a Job as its widget).

Only display.py is imported by ``import jobnb``, and it is light: the widget modules,
and ipywidgets with them, are imported when a Job is first displayed or a dashboard made.
"""
