"""flosslab."""
