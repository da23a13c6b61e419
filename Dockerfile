# Placeholder. The container image (multi-stage, non-root, gunicorn/ASGI entry point) is
# built by the Operations issue. Until then this file deliberately has no instructions,
# so `docker build` fails instead of producing an image that does not work.
