"""A chat room on the WebSocket API: every message is broadcast to every connection.

Unchanged AWS handlers: $connect stores the connection id, $disconnect removes it, and the
"sendmessage" route posts to each connection through the @connections API with boto3.
Send {"action": "sendmessage", "message": "hi"} on the socket.
"""

import json

import boto3

from chat.store import db


def connect(event, context):
    name = (event.get("queryStringParameters") or {}).get("name", "anonymous")
    with db() as conn:
        conn.execute("INSERT OR REPLACE INTO connections VALUES (?, ?)", (event["requestContext"]["connectionId"], name))
    return {"statusCode": 200}


def disconnect(event, context):
    with db() as conn:
        conn.execute("DELETE FROM connections WHERE id = ?", (event["requestContext"]["connectionId"],))
    return {"statusCode": 200}


def send_message(event, context):
    ctx = event["requestContext"]
    body = json.loads(event.get("body") or "{}")
    with db() as conn:
        members = conn.execute("SELECT id, name FROM connections").fetchall()
    sender = dict(members).get(ctx["connectionId"], "anonymous")
    api = boto3.client("apigatewaymanagementapi", endpoint_url=f"http://{ctx['domainName']}/{ctx['stage']}")
    data = json.dumps({"from": sender, "message": body.get("message", "")}).encode()
    for member_id, _ in members:
        try:
            api.post_to_connection(ConnectionId=member_id, Data=data)
        except api.exceptions.GoneException:
            with db() as conn:
                conn.execute("DELETE FROM connections WHERE id = ?", (member_id,))
    return {"statusCode": 200}


def default(event, context):
    return {"statusCode": 200, "body": json.dumps({"error": "send {\"action\": \"sendmessage\", \"message\": ...}"})}
