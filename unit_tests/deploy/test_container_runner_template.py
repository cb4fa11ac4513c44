"""The container runner in the template (issue 16 item 3): `meta-capi-receiver serve` on ECS Fargate
behind an ALB, deployed instead of or beside the Lambda by the `Runner` parameter.

What it names must exist in the code (routes, port, keep-alive, environment variables), each
`Runner` value must deploy a self-consistent set of resources, and the edge must be as closed as
the API Gateway path: the same web ACL, the allowlist in the ALB's security group, the tasks
reachable from the ALB only, and least-privilege roles.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from source_meta_capi.receiver import cli
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.settings import load_settings

from .test_template import function_env, resources, role_actions, task_envs

RUNNERS = ("lambda", "fargate", "both")
LAMBDA_ONLY = ("ReceiverFunction", "ReceiverRole", "ReceiverApi", "WebAclAssociation", "LambdaThrottlesAlarm")
FARGATE_ONLY = ("ReceiverService", "ReceiverAlb", "ReceiverAlbWebAclAssociation", "ReceiverScalableTarget")
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix", "AWS::NoValue"}


def container(template: dict[str, Any]) -> dict[str, Any]:
    (definition,) = template["Resources"]["ReceiverTaskDefinition"]["Properties"]["ContainerDefinitions"]
    found: dict[str, Any] = definition
    return found


def container_env(template: dict[str, Any]) -> dict[str, Any]:
    return dict(task_envs(template))["ReceiverTaskDefinition"]


class Conditions:
    """CloudFormation's condition functions over given parameter values (defaults for the rest)."""

    def __init__(self, template: dict[str, Any], values: Mapping[str, str]) -> None:
        self.template = template
        self.values = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()} | dict(values)

    def holds(self, name: str) -> bool:
        return self.evaluate(self.template["Conditions"][name])

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Condition":
                return self.holds(argument)
            if function == "Ref":
                return self.values[argument]
            if function == "Fn::Equals":
                return self.evaluate(argument[0]) == self.evaluate(argument[1])
            if function == "Fn::Not":
                return not self.evaluate(argument[0])
            if function == "Fn::And":
                return all(self.evaluate(item) for item in argument)
            if function == "Fn::Or":
                return any(self.evaluate(item) for item in argument)
            if function == "Fn::Join":
                return argument[0].join(self.evaluate(argument[1]))
        return node

    def deployed(self, body: Mapping[str, Any]) -> bool:
        return "Condition" not in body or self.holds(body["Condition"])

    def references(self, node: Any) -> Iterator[str]:
        """Logical ids a value refers to, following only the Fn::If branch that is taken."""
        if isinstance(node, dict):
            if "Fn::If" in node:
                condition, when_true, when_false = node["Fn::If"]
                yield from self.references(when_true if self.holds(condition) else when_false)
                return
            if "Ref" in node and isinstance(node["Ref"], str):
                yield node["Ref"]
            if "Fn::GetAtt" in node:
                yield node["Fn::GetAtt"][0]
            if "Fn::Sub" in node:
                text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
                yield from (name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
            for key, value in node.items():
                if key not in ("Ref", "Fn::GetAtt"):
                    yield from self.references(value)
        elif isinstance(node, list):
            for item in node:
                yield from self.references(item)


@pytest.mark.parametrize("runner", RUNNERS)
def test_given_runner_when_deploying_then_its_resources_exist_and_refer_only_to_deployed_ones(
    template, runner: str
) -> None:
    conditions = Conditions(template, {"Runner": runner, "ReceiverImageUri": "example/receiver:1"})
    deployed = {name for name, body in template["Resources"].items() if conditions.deployed(body)}
    assert all((name in deployed) == (runner != "fargate") for name in LAMBDA_ONLY), runner
    assert all((name in deployed) == (runner != "lambda") for name in FARGATE_ONLY), runner
    # The ForEach ingress rules' identifier, SAM's generated names and pseudo parameters aside,
    # every Ref / GetAtt / ${} of a deployed resource or output names a parameter or a deployed resource.
    known = deployed | set(template["Parameters"]) | PSEUDO | {"Cidr", "ReceiverApi.Stage"}
    for name, body in [*template["Resources"].items(), *template["Outputs"].items()]:
        if not conditions.deployed(body):
            continue
        missing = set(conditions.references(body)) - known
        assert not missing, f"Runner={runner}: {name} refers to {sorted(missing)}, which is not deployed"


@pytest.mark.parametrize("runner", ["fargate", "both"])
def test_given_container_runner_when_image_or_certificate_missing_then_a_rule_refuses_the_deploy(
    template, runner: str
) -> None:
    rule = template["Rules"]["FargateRunnerNeedsImageAndCertificate"]
    conditions = Conditions(template, {"Runner": runner})
    assert conditions.evaluate(rule["RuleCondition"])
    assert not Conditions(template, {"Runner": "lambda"}).evaluate(rule["RuleCondition"])
    asserted = [conditions.evaluate(a["Assert"]) for a in rule["Assertions"]]
    assert asserted == [False, False]  # defaults: no image, no certificate
    given = Conditions(template, {"Runner": runner, "ReceiverImageUri": "i", "ReceiverCertificateArn": "c"})
    assert all(given.evaluate(a["Assert"]) for a in rule["Assertions"])


def test_given_container_when_listing_environment_then_the_lambdas_variables_with_background_forwarding(
    template,
) -> None:
    env = container_env(template)
    # The queue intake is Lambda-only: the container batches with group commit.
    lambda_only = {"META_CAPI_INTAKE_MODE", "META_CAPI_QUEUE_URL"}
    assert set(env) == (set(function_env(template)) - lambda_only) | {
        "META_CAPI_HOST",
        "META_CAPI_PORT",
        "META_CAPI_KEEP_ALIVE_S",
    }
    assert env["META_CAPI_FORWARD_MODE"] == "background"
    for name in (
        "META_CAPI_STAGING_URL",
        "META_CAPI_MAX_BODY_BYTES",
        "META_CAPI_SCHEMA_VERSION",
        "META_CAPI_PIXEL_IDS",
    ):
        assert env[name] == function_env(template)[name], name
    plain = {
        name: env[name]
        for name in ("META_CAPI_FORWARD_MODE", "META_CAPI_HOST", "META_CAPI_PORT", "META_CAPI_KEEP_ALIVE_S")
    }
    settings = load_settings({"META_CAPI_STAGING_URL": "/tmp/x", "META_CAPI_ALLOW_UNSIGNED": "true", **plain})
    assert (settings.forward_mode, settings.host, settings.port) == ("background", "0.0.0.0", 8080)
    assert settings.keep_alive_s == 65


def test_given_container_when_serving_then_port_health_checks_and_routes_match_the_app(template, tmp_path) -> None:
    definition = container(template)
    assert definition["Command"] == ["serve"]
    port = int(container_env(template)["META_CAPI_PORT"])
    assert definition["PortMappings"] == [{"ContainerPort": port, "Protocol": "tcp"}]
    group = template["Resources"]["ReceiverTargetGroup"]["Properties"]
    assert group["Port"] == port and group["TargetType"] == "ip"
    assert group["HealthCheckPath"] == "/readyz"
    liveness = " ".join(definition["HealthCheck"]["Command"])
    assert f"http://127.0.0.1:{port}/healthz" in liveness
    app = create_app(load_settings({"META_CAPI_STAGING_URL": str(tmp_path), "META_CAPI_ALLOW_UNSIGNED": "true"}))
    try:
        routes = {(route.path, method) for route in app.routes for method in getattr(route, "methods", None) or ()}
    finally:
        app.state.runtime.close()
    assert {("/readyz", "GET"), ("/healthz", "GET"), ("/metrics", "GET")} <= routes
    hidden = template["Resources"]["ReceiverHideMetricsRule"]["Properties"]
    assert "/metrics" in hidden["Conditions"][0]["PathPatternConfig"]["Values"]
    assert hidden["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    # Graceful shutdown: ECS waits longer than serve drains, the ALB deregisters after it.
    drain = int(re.search(r'"timeout_graceful_shutdown": (\d+)', inspect.getsource(cli._serve)).group(1))
    assert definition["StopTimeout"] > drain
    delay = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}["deregistration_delay.timeout_seconds"]
    assert int(delay) > drain


def test_given_alb_when_idle_then_it_closes_connections_before_serve_does(template) -> None:
    # serve hands its keep-alive setting to uvicorn; the tasks' value must outlast the ALB's.
    assert '"timeout_keep_alive": settings.keep_alive_s' in inspect.getsource(cli._serve)
    keep_alive = int(container_env(template)["META_CAPI_KEEP_ALIVE_S"])
    attributes = {
        a["Key"]: a["Value"] for a in template["Resources"]["ReceiverAlb"]["Properties"]["LoadBalancerAttributes"]
    }
    assert int(attributes["idle_timeout.timeout_seconds"]) < keep_alive
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"


def test_given_alb_when_listening_then_https_only_with_the_certificate_parameter(template) -> None:
    listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert list(listeners) == ["ReceiverHttpsListener"]
    listener = listeners["ReceiverHttpsListener"]["Properties"]
    assert listener["Protocol"] == "HTTPS" and listener["Port"] == 443
    assert listener["Certificates"] == [{"CertificateArn": {"Ref": "ReceiverCertificateArn"}}]
    assert listener["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")


def test_given_security_groups_when_reading_rules_then_alb_admits_the_allowlist_and_tasks_the_alb_only(
    template,
) -> None:
    ingress = resources(template, "AWS::EC2::SecurityGroupIngress")
    to_alb = [
        r["Properties"] for r in ingress.values() if r["Properties"]["GroupId"] == {"Ref": "ReceiverAlbSecurityGroup"}
    ]
    # One rule per allowlisted CIDR (Fn::ForEach over AllowedIpv4Cidrs), HTTPS only.
    (loop,) = [v for k, v in template_loops(template) if k == "Fn::ForEach::ReceiverAlbIngress"]
    assert loop[:2] == ["Cidr", {"Ref": "AllowedIpv4Cidrs"}]
    assert to_alb == [
        {
            "GroupId": {"Ref": "ReceiverAlbSecurityGroup"},
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "CidrIp": {"Ref": "Cidr"},
            "Description": to_alb[0]["Description"],
        }
    ]
    groups = resources(template, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in groups["ReceiverAlbSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in groups["ReceiverTaskSecurityGroup"]["Properties"]
    to_tasks = [
        r["Properties"] for r in ingress.values() if r["Properties"]["GroupId"] == {"Ref": "ReceiverTaskSecurityGroup"}
    ]
    port = int(container_env(template)["META_CAPI_PORT"])
    assert [(r["SourceSecurityGroupId"], r["FromPort"], r["ToPort"]) for r in to_tasks] == [
        ({"Ref": "ReceiverAlbSecurityGroup"}, port, port)
    ]
    (egress,) = resources(template, "AWS::EC2::SecurityGroupEgress").values()
    assert egress["Properties"]["DestinationSecurityGroupId"] == {"Ref": "ReceiverTaskSecurityGroup"}
    # The ALB group's inline egress only replaces the default allow-all with a no-op.
    (placeholder,) = groups["ReceiverAlbSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert placeholder["CidrIp"] == "127.0.0.1/32"
    service = template["Resources"]["ReceiverService"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert service["AssignPublicIp"] == "DISABLED"
    assert service["Subnets"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]


def template_loops(template: dict[str, Any]) -> list[tuple[str, Any]]:
    from .conftest import DEPLOY, load_deploy_module

    raw = load_deploy_module("cfn_yaml").load_template(DEPLOY / "template.yaml")
    return [(k, v) for k, v in raw["Resources"].items() if k.startswith("Fn::ForEach::")]


def test_given_waf_when_associating_then_the_alb_gets_the_same_web_acl_as_the_api(template) -> None:
    associations = resources(template, "AWS::WAFv2::WebACLAssociation")
    assert {a["Properties"]["WebACLArn"]["Fn::GetAtt"][0] for a in associations.values()} == {"WebAcl"}
    assert associations["ReceiverAlbWebAclAssociation"]["Properties"]["ResourceArn"] == {"Ref": "ReceiverAlb"}


def test_given_task_roles_when_listing_actions_then_least_privilege(template) -> None:
    actions = role_actions(template, "ReceiverTaskRole")
    assert {a for a in actions if a.startswith("s3:")} == {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}
    assert {a.split(":")[0] for a in actions} == {"s3", "secretsmanager"}
    execution = role_actions(template, "ReceiverExecutionRole")
    assert {a.split(":")[0] for a in execution} == {"ecr", "logs"}
    # Logs go to the receiver's log group, so the metric filters and alarms count both runners.
    logs = container(template)["LogConfiguration"]["Options"]
    assert logs["awslogs-group"] == {"Ref": "ReceiverLogGroup"}
    assert "Condition" not in template["Resources"]["ReceiverLogGroup"]


def test_given_autoscaling_when_reading_policies_then_request_count_per_target_and_cpu_between_min_and_max(
    template,
) -> None:
    target = template["Resources"]["ReceiverScalableTarget"]["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == ({"Ref": "ReceiverMinTasks"}, {"Ref": "ReceiverMaxTasks"})
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    metrics = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]
        for p in policies
    }
    assert metrics == {"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}
    assert template["Resources"]["ReceiverService"]["Properties"]["DesiredCount"] == {"Ref": "ReceiverMinTasks"}
