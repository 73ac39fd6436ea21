"""GET /hello/{name}: a path parameter and the query string."""

import json


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "world")
    greeting = (event.get("queryStringParameters") or {}).get("greeting", "Hello")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"{greeting}, {name}!", "requestId": context.aws_request_id}),
    }
