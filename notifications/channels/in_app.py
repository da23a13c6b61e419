from notifications.channels.base import Channel, Message


class InAppChannel(Channel):
    """The notification list in the API is the in-app channel: nothing to send."""

    name = "in_app"

    def send(self, message: Message) -> None:
        return None
