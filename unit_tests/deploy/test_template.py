"""The deployment template cannot rot: what it names must exist in the receiver's code.

Handler path, runtime, every environment variable, the log messages and fields its metric
filters read, the CLI commands its jobs run, the bucket areas its lifecycle rules expire, the
routes it exposes, and that secrets only ever arrive as Secrets Manager references.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import source_meta_capi.receiver as receiver_package
from integration_tests.support.deploy_modules import load_deploy_module
from source_meta_capi.capi.event_validation import MAX_EVENT_AGE_SECONDS, MAX_PHYSICAL_STORE_AGE_SECONDS
from source_meta_capi.receiver import cli
from source_meta_capi.receiver.app import EVENTS_ROUTE, create_app
from source_meta_capi.receiver.env_table import environment_variables
from source_meta_capi.receiver.graph_intake import GRAPH_ROUTES
from source_meta_capi.receiver.settings import load_settings
from source_meta_capi.staging.keys import ObjectKind

from .conftest import DEPLOY, ROOT

DAY_S = 24 * 3600
SECRETS_MANAGER_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:meta/receiver-AbCdEf"


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


# The API Lambda and, in the queue intake mode, the batch Lambda draining the intake queue.
FUNCTIONS = {"ReceiverFunction", "QueueBatchFunction"}


def the_function(template: dict[str, Any], name: str = "ReceiverFunction") -> dict[str, Any]:
    assert set(resources(template, "AWS::Serverless::Function")) == FUNCTIONS
    properties: dict[str, Any] = template["Resources"][name]["Properties"]
    return properties


def function_env(template: dict[str, Any], name: str = "ReceiverFunction") -> dict[str, Any]:
    variables: dict[str, Any] = the_function(template, name)["Environment"]["Variables"]
    return variables


def task_envs(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, task in resources(template, "AWS::ECS::TaskDefinition").items():
        for container in task["Properties"]["ContainerDefinitions"]:
            yield name, {item["Name"]: item["Value"] for item in container.get("Environment", [])}


def leaves(value: Any) -> Iterator[Any]:
    """The values an intrinsic can end up as: both branches of every Fn::If."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, when_true, when_false = value["Fn::If"]
        yield from leaves(when_true)
        yield from leaves(when_false)
    else:
        yield value


def log_calls() -> dict[str, set[str]]:
    """message -> context field names, of every `log(level, "message", field=…)` in the receiver."""
    calls: dict[str, set[str]] = {}
    for path in Path(receiver_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "log"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                calls.setdefault(node.args[1].value, set()).update(k.arg for k in node.keywords if k.arg)
    return calls


def storage_areas() -> set[str]:
    """Top-level areas the code writes under a store's prefix: the object kinds and every `*_AREA`."""
    areas = {kind.value for kind in ObjectKind}
    package = Path(receiver_package.__file__).parent.parent
    for path in [*package.joinpath("receiver").glob("*.py"), *package.joinpath("staging").glob("*.py")]:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.endswith("_AREA")
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                areas.add(node.value.value)
    return areas


@pytest.mark.parametrize(
    ("function", "entry_point"),
    [
        ("ReceiverFunction", "source_meta_capi.receiver.lambda_handler.handler"),
        ("QueueBatchFunction", "source_meta_capi.receiver.batch_handler.handler"),
    ],
)
def test_given_template_when_reading_handler_then_it_names_the_lambda_entry_point(
    template, function: str, entry_point: str
) -> None:
    assert the_function(template, function)["Handler"] == entry_point
    module_name, _, attribute = entry_point.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    assert callable(handler)
    assert list(inspect.signature(handler).parameters) == ["event", "context"]


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_given_template_when_reading_runtime_then_it_is_the_python_the_zip_is_built_for(template, function) -> None:
    build = load_deploy_module("build_lambda_zip")
    major, minor = build.LAMBDA_PYTHON
    assert the_function(template, function)["Runtime"] == f"python{major}.{minor}"
    assert the_function(template, function)["CodeUri"] == "../build/receiver-lambda.zip"
    assert (DEPLOY / the_function(template, function)["CodeUri"]).resolve() == ROOT / "build" / "receiver-lambda.zip"


def test_given_template_when_listing_environment_then_every_variable_is_one_the_receiver_reads(template) -> None:
    for function in sorted(FUNCTIONS):
        unknown = set(function_env(template, function)) - receiver_variables()
        assert not unknown, f"{function} sets variables the receiver never reads: {sorted(unknown)}"
    for task, env in task_envs(template):
        unknown = set(env) - receiver_variables()
        assert not unknown, f"{task} sets variables the receiver never reads: {sorted(unknown)}"


def test_given_template_when_staging_then_lambda_and_jobs_point_at_the_bucket_prefix(template) -> None:
    staging = {"Fn::Sub": "s3://${StagingBucket}/${StagingPrefix}"}
    assert function_env(template)["META_CAPI_STAGING_URL"] == staging
    assert all(env["META_CAPI_STAGING_URL"] == staging for _, env in task_envs(template))
    assert "Environment" in the_function(template) and "AWS_LAMBDA_FUNCTION_NAME" not in function_env(template)


def receiver_variables() -> set[str]:
    return {variable.name for variable in environment_variables()}


def secret_variables() -> set[str]:
    return {variable.name for variable in environment_variables() if variable.secret}


def test_given_secret_variables_when_set_then_only_secrets_manager_references_never_values(template) -> None:
    parameters = template["Parameters"]
    secret_resources = resources(template, "AWS::SecretsManager::Secret")
    assert {"META_CAPI_WEBHOOK_SECRETS", "META_CAPI_ACCESS_TOKENS"} <= secret_variables()
    envs = [("ReceiverFunction", function_env(template)), *task_envs(template)]
    for owner, env in envs:
        for name in secret_variables() & set(env):
            for leaf in leaves(env[name]):
                if leaf == "" or leaf == {"Ref": "AWS::NoValue"}:
                    continue
                assert isinstance(leaf, dict) and set(leaf) == {"Ref"}, f"{owner} {name}: {leaf!r} is not a reference"
                target = leaf["Ref"]
                if target in secret_resources:
                    continue
                pattern = parameters[target].get("AllowedPattern", "")
                assert "secretsmanager" in pattern, f"{owner} {name}: parameter {target} does not require a secret ARN"
                assert re.fullmatch(pattern, SECRETS_MANAGER_ARN) and not re.fullmatch(pattern, "a-plain-token")


def test_given_secret_references_when_resolving_then_each_role_may_read_exactly_those(template) -> None:
    roles = resources(template, "AWS::IAM::Role")

    def readable(role: str) -> list[Any]:
        statements = [s for p in roles[role]["Properties"]["Policies"] for s in _statements(p)]
        found = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
        assert len(found) == 1, f"{role} must read secrets in one statement"
        return [leaf for item in found[0]["Resource"] for leaf in leaves(item) if leaf != {"Ref": "AWS::NoValue"}]

    used = [
        leaf
        for name in secret_variables() & set(function_env(template))
        for leaf in leaves(function_env(template)[name])
    ]
    assert sorted(map(repr, readable("ReceiverRole"))) == sorted(repr(u) for u in used if u != {"Ref": "AWS::NoValue"})
    # Each task role reads exactly the secrets its task definitions reference ("" = none given).
    used_by_role: dict[str, set[str]] = {}
    tasks = resources(template, "AWS::ECS::TaskDefinition")
    for task, env in task_envs(template):
        role = tasks[task]["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
        used_by_role.setdefault(role, set()).update(
            repr(leaf) for name in secret_variables() & set(env) for leaf in leaves(env[name])
        )
    assert set(used_by_role) == {"JobsTaskRole", "ReceiverTaskRole"}
    for role, task_used in used_by_role.items():
        assert {repr(leaf) for leaf in readable(role)} == task_used - {repr("")}, role
    batch_env = function_env(template, "QueueBatchFunction")
    batch_used = [leaf for name in secret_variables() & set(batch_env) for leaf in leaves(batch_env[name])]
    assert sorted(map(repr, readable("QueueBatchRole"))) == sorted(
        repr(u) for u in batch_used if u != {"Ref": "AWS::NoValue"}
    )


def _statements(policy: Any) -> Iterator[dict[str, Any]]:
    for branch in leaves(policy):
        if isinstance(branch, dict) and "PolicyDocument" in branch:
            yield from branch["PolicyDocument"]["Statement"]


def role_actions(template: dict[str, Any], name: str) -> set[str]:
    role = resources(template, "AWS::IAM::Role")[name]["Properties"]
    assert "ManagedPolicyArns" not in role
    actions: set[str] = set()
    for policy in role["Policies"]:
        for statement in _statements(policy):
            assert statement["Effect"] == "Allow"
            acts = statement["Action"]
            actions.update(acts if isinstance(acts, list) else [acts])
    return actions


def test_given_receiver_role_when_listing_actions_then_nothing_beyond_its_needs(template) -> None:
    role = resources(template, "AWS::IAM::Role")["ReceiverRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    actions = set()
    for policy in role["Policies"]:
        for statement in _statements(policy):
            assert statement["Effect"] == "Allow"
            acts = statement["Action"]
            actions.update(acts if isinstance(acts, list) else [acts])
    s3 = {a for a in actions if a.startswith("s3:")}
    # Write-once: no delete, no ACL changes; reads only.
    assert s3 == {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}
    assert {a.split(":")[0] for a in actions} == {"s3", "secretsmanager", "logs", "sqs", "ec2"}


def test_given_template_when_expiring_then_every_area_the_code_writes_has_a_rule(template) -> None:
    rules = template["Resources"]["StagingBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    by_area = {}
    for rule in rules:
        prefix = rule.get("Prefix")
        if isinstance(prefix, dict):
            match = re.fullmatch(r"\$\{StagingPrefix\}/([a-z_]+)/", prefix["Fn::Sub"])
            assert match, prefix
            by_area[match.group(1)] = rule["ExpirationInDays"]["Ref"]
    assert set(by_area) == storage_areas()
    assert by_area.pop("dead_letters") == "DeadLetterRetentionDays"
    assert set(by_area.values()) == {"StagedRetentionDays"}


def test_given_retention_defaults_when_compared_to_meta_windows_then_they_cover_them(template) -> None:
    parameters = template["Parameters"]
    assert parameters["StagedRetentionDays"]["Default"] * DAY_S == MAX_EVENT_AGE_SECONDS
    assert parameters["DeadLetterRetentionDays"]["Default"] * DAY_S == MAX_PHYSICAL_STORE_AGE_SECONDS


def test_given_metric_filters_when_reading_patterns_then_messages_and_fields_exist_in_the_code(template) -> None:
    calls = log_calls()
    filters = resources(template, "AWS::Logs::MetricFilter")
    assert filters
    for name, metric_filter in filters.items():
        pattern = metric_filter["Properties"]["FilterPattern"]
        messages = re.findall(r'\$\.message = "([^"]+)"', pattern)
        assert len(messages) == 1, f"{name}: a filter reads one message"
        assert messages[0] in calls, f"{name}: the receiver never logs {messages[0]!r}"
        fields = set(re.findall(r"\$\.([a-z_]+)", pattern)) - {"message"}
        value = metric_filter["Properties"]["MetricTransformations"][0]["MetricValue"]
        fields |= set(re.findall(r"\$\.([a-z_]+)", value))
        assert fields <= calls[messages[0]], f"{name}: {messages[0]!r} carries no {sorted(fields - calls[messages[0]])}"


def test_given_forward_status_filter_when_matching_then_the_statuses_are_the_forwarders() -> None:
    source = Path(receiver_package.__file__).parent.joinpath("forwarding.py").read_text(encoding="utf-8")
    for status in ("failed", "partial", "delivered"):
        assert f'status = "{status}"' in source


def test_given_job_tasks_when_parsing_their_commands_then_the_cli_accepts_them(template, capsys) -> None:
    commands = {
        name: container["Command"]
        for name, task in resources(template, "AWS::ECS::TaskDefinition").items()
        for container in task["Properties"]["ContainerDefinitions"]
    }
    assert sorted(c[0] for c in commands.values()) == ["reconcile", "redrive", "serve"]
    for command in commands.values():
        with pytest.raises(SystemExit) as stopped:
            cli.main([*command, "--help"])
        assert stopped.value.code == 0


def test_given_api_events_when_compared_to_the_app_then_routes_and_methods_match(template, tmp_path) -> None:
    events = the_function(template)["Events"]
    exposed = {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in events.values()}
    assert (EVENTS_ROUTE, "POST") in exposed
    assert {(route, "POST") for route in GRAPH_ROUTES} <= exposed
    app = create_app(load_settings({"META_CAPI_STAGING_URL": str(tmp_path), "META_CAPI_ALLOW_UNSIGNED": "true"}))
    try:
        routes = {(route.path, method) for route in app.routes for method in getattr(route, "methods", None) or ()}
    finally:
        app.state.runtime.close()
    assert exposed <= routes
    # /metrics is per execution environment on Lambda: meaningless there, so not exposed.
    assert all(path != "/metrics" for path, _ in exposed)


def test_given_waf_body_rule_when_matching_lengths_then_it_blocks_from_5mb_and_spares_the_receiver_limit(
    template,
) -> None:
    rules = {r["Name"]: r for r in template["Resources"]["WebAcl"]["Properties"]["Rules"]}
    pattern = rules["body-size-limit"]["Statement"]["RegexMatchStatement"]["RegexString"]
    limit = int(function_env(template)["META_CAPI_MAX_BODY_BYTES"])
    assert limit < 5_000_000 <= 6 * 1000 * 1000  # below Lambda's synchronous payload cap
    for length in (0, 1, 8192, 999_999, limit, limit + 1, 4_999_999):
        assert not re.fullmatch(pattern, str(length)), length
    for length in (5_000_000, 6_291_456, 9_999_999, 10_000_000, 123_456_789_012):
        assert re.fullmatch(pattern, str(length)), length
    # The common rule set's 8 KB body rule would refuse every real batch.
    common = rules["aws-common-rules"]["Statement"]["ManagedRuleGroupStatement"]
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in common["RuleActionOverrides"]


def test_given_bucket_when_reading_policy_then_public_access_blocked_encrypted_and_tls_only(template) -> None:
    bucket = template["Resources"]["StagingBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    statements = template["Resources"]["StagingBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_given_outputs_when_deployed_then_endpoint_bucket_and_nat_ip_are_given(template) -> None:
    outputs = template["Outputs"]
    assert {"EndpointUrl", "StagingBucketName", "StagingBucketUrl", "NatPublicIp"} <= set(outputs)
    assert outputs["NatPublicIp"]["Value"] == {"Ref": "NatElasticIp"}
    assert outputs["EndpointUrl"]["Value"]["Fn::Sub"].endswith(EVENTS_ROUTE)


def test_given_parameters_when_listed_then_each_has_a_description(template) -> None:
    for name, parameter in template["Parameters"].items():
        assert parameter.get("Description"), f"parameter {name} has no description"


def _actions(template: dict[str, Any], role: str) -> dict[str, Any]:
    """action -> resource, of every statement of a role (all branches of its conditional policies)."""
    found: dict[str, Any] = {}
    for policy in resources(template, "AWS::IAM::Role")[role]["Properties"]["Policies"]:
        for statement in _statements(policy):
            assert statement["Effect"] == "Allow"
            acts = statement["Action"]
            for action in acts if isinstance(acts, list) else [acts]:
                found[action] = statement["Resource"]
    return found


def test_given_queue_intake_when_deployed_then_each_lambda_may_do_exactly_its_part(template) -> None:
    enqueue = [
        s
        for policy in resources(template, "AWS::IAM::Role")["ReceiverRole"]["Properties"]["Policies"]
        for s in _statements(policy)
        if s.get("Sid") == "EnqueueRequests"
    ]
    assert len(enqueue) == 1 and enqueue[0]["Action"] == "sqs:SendMessage"
    assert "IntakeQueue" in repr(enqueue[0]["Resource"])
    batch = _actions(template, "QueueBatchRole")
    assert {a for a in batch if a.startswith("sqs:")} == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert all("IntakeQueue" in repr(batch[a]) for a in batch if a.startswith("sqs:"))
    # Write-once puts only: the batch Lambda neither reads, lists nor deletes.
    assert {a for a in batch if a.startswith("s3:")} == {"s3:PutObject"}
    assert {a.split(":")[0] for a in batch} == {"sqs", "s3", "secretsmanager", "logs", "ec2"}


def test_given_queue_intake_when_deployed_then_the_mapping_batches_and_reports_item_failures(template) -> None:
    from source_meta_capi.receiver.batch_handler import FORWARD_BATCH_EVENTS

    batch_function = the_function(template, "QueueBatchFunction")
    (mapping,) = batch_function["Events"].values()
    assert mapping["Type"] == "SQS"
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] == {"Ref": "QueueBatchSize"}
    assert template["Parameters"]["QueueBatchSize"]["MaxValue"] == 10000
    assert template["Parameters"]["QueueBatchSize"]["Default"] >= FORWARD_BATCH_EVENTS
    queue = template["Resources"]["IntakeQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * batch_function["Timeout"]
    assert queue["SqsManagedSseEnabled"] is True
    assert template["Resources"]["IntakeDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["IntakeDeadLetterQueue", "Arn"]}
    # The forwarding budget leaves the timeout room for staging and answering.
    env = function_env(template, "QueueBatchFunction")
    assert float(env["META_CAPI_FORWARD_BATCH_DEADLINE_S"]) <= batch_function["Timeout"] / 2
    receiver_env = function_env(template)
    assert receiver_env["META_CAPI_INTAKE_MODE"] == {"Ref": "IntakeMode"}
    assert template["Parameters"]["IntakeMode"]["Default"] == "direct"
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    watched = {(a["Properties"].get("MetricName"), repr(a["Properties"].get("Dimensions"))) for a in alarms.values()}
    assert any(m == "ApproximateNumberOfMessagesVisible" and "IntakeDeadLetterQueue" in d for m, d in watched)
    assert any(m == "ApproximateAgeOfOldestMessage" and "IntakeQueue" in d for m, d in watched)
