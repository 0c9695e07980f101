"""Workforce management: recorded history, forecasts, staffing and schedules."""
