"""A small sign-in session service on DynamoDB whose resilience is real code.

Read it module by module: ``store`` (botocore retries and timeouts, conditional writes),
``failover`` (error classes, circuit breakers, regional router), ``cache`` (static stability),
``sessions`` (the service), ``server`` (HTTP API), ``config`` (resilient vs naive, environment).
"""

from sample_app.config import AppConfig
from sample_app.server import AppServer
from sample_app.tables import TABLE_SPECS

__all__ = ["AppConfig", "AppServer", "TABLE_SPECS"]
