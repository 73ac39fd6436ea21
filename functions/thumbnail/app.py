"""Thumbnail on upload: an image lands in the ``uploads`` bucket, a thumbnail appears in ``thumbnails``.

Wired in config.toml as the ``uploads`` bucket's function. For each S3 ObjectCreated record it
writes, under the same key in the ``thumbnails`` bucket, a thumbnail at most 128x128 pixels (same
format, EXIF orientation applied) and next to it ``KEY.json``, a metadata record: name, size,
dimensions, format, created. A file that is not an image is skipped (logged), not retried.

Buckets are folders under ``$FAAS_BUCKETS_DIR``; as any handler here, this one runs unchanged on
AWS Lambda by swapping the two small file helpers for boto3's ``get_object``/``put_object``.
"""

import json
import logging
import os
from datetime import datetime, timezone
from urllib.parse import unquote_plus

from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

THUMBNAIL_BUCKET = os.environ.get("THUMBNAIL_BUCKET", "thumbnails")
MAX_SIZE = int(os.environ.get("THUMBNAIL_SIZE", "128"))


def _path(bucket, key):
    return os.path.join(os.environ["FAAS_BUCKETS_DIR"], bucket, key)


def _put(bucket, key, write):
    """Write an object whole: a hidden temporary file renamed into place is announced at once."""
    path = _path(bucket, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.part")
    with open(temp, "wb") as f:
        write(f)
    os.replace(temp, path)


def thumbnail(bucket, key, size):
    with Image.open(_path(bucket, key)) as image:
        image_format = image.format
        width, height = image.size
        thumb = ImageOps.exif_transpose(image)
        thumb.thumbnail((MAX_SIZE, MAX_SIZE))
    if image_format == "JPEG" and thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGB")
    _put(THUMBNAIL_BUCKET, key, lambda f: thumb.save(f, format=image_format))
    record = {
        "name": key,
        "size": size,
        "dimensions": {"width": width, "height": height},
        "format": image_format,
        "thumbnail": {"bucket": THUMBNAIL_BUCKET, "key": key, "width": thumb.width, "height": thumb.height},
        "source": {"bucket": bucket, "key": key},
        "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    _put(THUMBNAIL_BUCKET, key + ".json", lambda f: f.write(json.dumps(record, indent=2).encode()))
    return record


def handler(event, context):
    made, skipped = [], []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        try:
            made.append(thumbnail(bucket, key, record["s3"]["object"].get("size")))
        except UnidentifiedImageError:
            logger.info("%s/%s is not an image; skipped", bucket, key)
            skipped.append(key)
        except FileNotFoundError:
            logger.info("%s/%s is gone already; skipped", bucket, key)
            skipped.append(key)
    return {"thumbnails": made, "skipped": skipped}
