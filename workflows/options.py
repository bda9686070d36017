"""Activity options the workflows share: timeouts and bounded retries per kind of step."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# One transaction in our database: retried quickly; a request the data refuses is final.
DB_STEP = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(
        maximum_interval=timedelta(minutes=1), non_retryable_error_types=["InvalidRequest"]
    ),
}
# A call to a system outside (provisioning): longer backoff, bounded attempts.
EXTERNAL_CALL = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=5),
        maximum_interval=timedelta(minutes=10),
        maximum_attempts=50,
    ),
}
# Rendering documents and building daily files.
FILE_WORK = {
    "start_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}
# A fleet job that pages through many rows (the collection sweep, the nightly retention):
# up to an hour, heartbeating as it goes, so a crashed worker's job is retried half a
# minute later, not at the end of the hour.
FLEET_SWEEP = {
    "start_to_close_timeout": timedelta(hours=1),
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}
# Transient SMTP failures back off from 2 s to 5 min; the activity itself gives up after
# FAKTURA_SMTP_MAX_ATTEMPTS and posts the document instead, so this never runs forever.
DELIVERY = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
    ),
}
# The hand-over of a freshly issued invoice in one local step (documents, e-mail,
# receivable, debit, start of its workflow): the longest timeout of its parts, and the
# e-mail's backoff, since that is the part that waits for others.
HAND_OVER = {
    "start_to_close_timeout": timedelta(minutes=10),
    "retry_policy": DELIVERY["retry_policy"],
}
