"""Long-poll watch (to be made asynchronous): for now it answers at once."""

from configs.api import views


def view(request, name: str):
    return views._detail(request, name=name)
