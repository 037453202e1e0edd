"""RefDesk: the shared domain package deployed as the Lambda layer."""
