#!/bin/sh
# One-shot job (admin-tools image): the namespace and the journeys' search attributes
# (nurture/journey/search_attributes.py; `nurture doctor` checks them). Idempotent.
set -eu
namespace="${NAMESPACE:-default}"
temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1 ||
  temporal operator namespace create --namespace "$namespace" --retention 7d
for attribute in NurtureProduct=Keyword LeadStage=Keyword LeadLifecycle=Keyword \
  NurtureTrack=Keyword ScenarioVersion=Keyword LeadScore=Int NextTouchAt=Datetime; do
  temporal operator search-attribute create --namespace "$namespace" \
    --name "${attribute%%=*}" --type "${attribute#*=}" || true
done
echo "namespace $namespace and the journeys' search attributes are registered"
