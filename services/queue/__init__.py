"""The queue and pub/sub behind `services.broker.Broker`, shared by the API and the
workers: the arq-backed broker and the embedded Redis of the default mode. The one
place under services/ that imports arq and redis directly."""
