"""Returns the event it was given, so you can see exactly what a handler receives."""


def handler(event, context):
    return event
