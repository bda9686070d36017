#!/bin/sh
# Create the namespace and faktura's search attributes (idempotent).
set -eu
attempts=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  attempts=$((attempts + 1)); [ "$attempts" -ge 60 ] && exit 1; sleep 2
done
temporal operator namespace describe -n default --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 \
  || temporal operator namespace create -n default --retention 30d --address "$TEMPORAL_ADDRESS"
temporal operator search-attribute create --namespace default --address "$TEMPORAL_ADDRESS" \
  --name ContractStatus --type Keyword --name CustomerId --type Keyword \
  --name NextBillingDate --type Datetime --name DunningLevel --type Int \
  --name InvoiceStatus --type Keyword || true
