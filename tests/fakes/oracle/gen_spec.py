"""Generate spec_20160918.json, the per-operation table the OCI fake checks requests against.

Run it by hand when the pinned ``oci`` SDK changes (the table is committed, the SDK is not):

    .venv/bin/python tests/fakes/oracle/gen_spec.py

Source: oracle/oci-python-sdk as installed (``oci.__version__`` is written into the table),
which is generated from Oracle's API description of Core Services 20160918 (and Identity,
Work Requests): for each operation the client method's ``resource_path``, ``method``,
``required_arguments``, ``query_params``, ``header_params``, the ``*_allowed_values`` lists
it checks, and the body model; for each model (oci/core/models/*.py) its JSON names, the
properties marked ``**[Required]**`` and "Allowed values for this property are: ...".
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from pathlib import Path

#: client class -> the operations of it the fake serves (what cms and its tests call)
OPERATIONS = {
    "oci.core.ComputeClient": [
        "list_instances", "launch_instance", "get_instance", "instance_action",
        "update_instance", "terminate_instance", "list_vnic_attachments", "list_images",
        "get_image", "list_shapes"],
    "oci.core.VirtualNetworkClient": [
        "get_vnic", "list_vcns", "get_vcn", "list_subnets", "get_subnet",
        "list_network_security_groups", "create_network_security_group",
        "get_network_security_group", "delete_network_security_group",
        "list_network_security_group_security_rules",
        "add_network_security_group_security_rules",
        "remove_network_security_group_security_rules"],
    "oci.identity.IdentityClient": ["list_availability_domains", "list_region_subscriptions"],
    "oci.work_requests.WorkRequestClient": ["get_work_request", "list_work_request_errors"],
}
_ALLOWED = re.compile(r'Allowed values for this property are: ((?:"[^"]*"(?:, )?)+)')


def _literal(node: ast.AST):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def operation_table(method) -> dict:
    """One operation's row, read from the generated client method's source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
    function = tree.body[0]
    row: dict = {"query": {}, "headers": [], "allowed": {}}
    kwarg_of_query: dict[str, str] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("resource_path", "method", "operation_name", "api_reference_link"):
                row[name] = _literal(node.value)
            elif name == "required_arguments":
                row["required"] = _literal(node.value)
            elif name.endswith("_allowed_values"):
                row["allowed"][name[:-len("_allowed_values")]] = _literal(node.value)
            elif name == "query_params" and isinstance(node.value, ast.Dict):
                for key, value in zip(node.value.keys, node.value.values):
                    source = ast.unparse(value)
                    found = re.search(r"kwargs\.get\('(\w+)'|kwargs\.get\(\"(\w+)\"", source)
                    kwarg = (found.group(1) or found.group(2)) if found else source
                    kwarg_of_query[_literal(key)] = kwarg
            elif name == "header_params" and isinstance(node.value, ast.Dict):
                row["headers"] = [_literal(k) for k in node.value.keys]
        if (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("call_api")):
            for keyword in node.keywords:
                if keyword.arg == "body":
                    source = ast.unparse(keyword.value)
                    found = re.search(r"'(\w+)'", source)
                    row["body_arg"] = found.group(1) if found else source
                if keyword.arg == "response_type":
                    row["response"] = _literal(keyword.value)
    doc = inspect.getdoc(method) or ""
    for param, text in re.findall(r":param \S+ (\w+):(.*?)(?=\n:param|\n:return|\Z)", doc, re.S):
        allowed = re.search(r'Allowed values are: ((?:"[^"]*"(?:,\s*)?)+)', text)
        if allowed and param not in row["allowed"]:
            row["allowed"][param] = re.findall(r'"([^"]*)"', allowed.group(1))
    for query, kwarg in kwarg_of_query.items():
        # a query parameter required by the operation, and its allowed values (the
        # client checks them by the kwarg's name; the wire carries the camelCase one)
        row["query"][query] = {"required": query in (row.get("required") or []),
                               "allowed": row["allowed"].get(kwarg)}
    body_arg = row.get("body_arg")
    if body_arg:
        found = re.search(rf":param ([\w.]+) {body_arg}: \((required|optional)\)", doc)
        if found:
            row["body"] = found.group(1).rsplit(".", 1)[-1]
            row["body_required"] = found.group(2) == "required"
    del row["allowed"]
    row.pop("body_arg", None)
    return row


def model_table(cls) -> dict:
    """A model's JSON fields: type, required, allowed values; its subtypes by discriminator."""
    instance = cls()
    fields = {}
    for attribute, kind in instance.swagger_types.items():
        doc = inspect.getdoc(getattr(cls, attribute)) or ""
        allowed = _ALLOWED.search(doc.replace("\n", " "))
        fields[instance.attribute_map[attribute]] = {
            "type": kind, "required": "**[Required]**" in doc,
            "allowed": re.findall(r'"([^"]*)"', allowed.group(1)) if allowed else None}
    row: dict = {"fields": fields}
    if "get_subtype" in cls.__dict__:
        source = inspect.getsource(cls.get_subtype)
        row["discriminator"] = re.search(r"object_dictionary\['(\w+)'\]", source).group(1)
        row["subtypes"] = dict(re.findall(r"if type == '(\w+)':\s+return '(\w+)'", source))
    return row


def models_reached(name: str, package, seen: dict) -> None:
    if name in seen or not hasattr(package, name):
        return
    seen[name] = model_table(getattr(package, name))
    for sub in (seen[name].get("subtypes") or {}).values():
        models_reached(sub, package, seen)
    for field in seen[name]["fields"].values():
        inner = re.sub(r"^list\[|\]$|^dict\(str, |\)$", "", field["type"])
        models_reached(inner, package, seen)


def main() -> None:
    import importlib

    import oci

    table: dict = {"sdk": f"oci {oci.__version__}", "api": "20160918",
                   "operations": {}, "models": {}}
    for dotted, names in OPERATIONS.items():
        module, _, cls_name = dotted.rpartition(".")
        package = importlib.import_module(module)
        client = getattr(package, cls_name)
        models = importlib.import_module(module + ".models")
        for name in names:
            row = operation_table(getattr(client, name))
            table["operations"][row.pop("operation_name")] = row
            if row.get("body"):
                models_reached(row["body"], models, table["models"])
    out = Path(__file__).with_name("spec_20160918.json")
    out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"{out}: {len(table['operations'])} operations, {len(table['models'])} models")


if __name__ == "__main__":
    main()
