"""`make bench`: run every benchmark in turn; each prints its figures next to its baselines."""

from bench import (
    hevc_cut,
    ietf_upload,
    ladder,
    plain_upload,
    processing,
    s3_upload,
    smart_cut,
    soak,
    tus_upload,
    viewing,
    webhooks,
)

for module in (
    plain_upload,
    tus_upload,
    ietf_upload,
    s3_upload,
    processing,
    smart_cut,
    hevc_cut,
    webhooks,
    viewing,
    ladder,
    soak,
):
    module.main()
