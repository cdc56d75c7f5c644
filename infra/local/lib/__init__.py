"""The local stack's shared library: what the servers (infra/local/servers/) and tools
(infra/local/tools/) have in common. Imported as the package `lib`, with infra/local on sys.path:
each server or tool run as a script puts it there once, first thing (see servers/invoke_proxy.py),
and the tests do the same (tests/test_local_stack.py). Modules here import each other relatively.

  local_http     the threading HTTP server and JSON handler every stand-in serves with
  local_sigv4    SigV4 verification, as API Gateway verifies an AWS_IAM route
  local_srp      Cognito's SRP-6a sign-in (server side for moto, client side for tools and tests)
  local_cognito  the console's Cognito resources, read from template.yaml
  local_template template.yaml, its CloudFormation tags and intrinsic functions resolved locally,
                 and the local stack's globals (account, region, stack name)
  local_iam      the IAM policy evaluator, on the template's policies
  stack_env      reads .local/stack.env
"""

from pathlib import Path

# The repository's root (this file is infra/local/lib/__init__.py).
ROOT = Path(__file__).resolve().parents[3]
