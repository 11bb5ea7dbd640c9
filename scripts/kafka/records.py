"""Reading a topic back for the checks of scripts/chaos and scripts/dr drill."""
import time


class ReadFailed(RuntimeError):
    pass


def read_topic(bootstrap, topic, group, timeout=30):
    """Every committed record of `topic`, from the beginning to its end when called:
    [(value, timestamp_ms)]; [] when the topic does not exist."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed",
                  "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 3})
    try:
        md = c.list_topics(topic, timeout=30)
        if topic not in md.topics or md.topics[topic].error is not None:
            return []
        parts = sorted(md.topics[topic].partitions)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in parts}
        todo = {p for p in parts if ends[p] > 0}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        out, idle = [], time.monotonic()
        while todo and time.monotonic() - idle < timeout:
            for m in c.consume(2000, 1.0):
                idle = time.monotonic()
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        todo.discard(m.partition())
                    continue
                out.append((m.value(), m.timestamp()[1]))
                if m.offset() + 1 >= ends[m.partition()]:
                    todo.discard(m.partition())
        if todo:
            raise ReadFailed(f"could not read {topic} to its end (partitions {sorted(todo)})")
        return out
    finally:
        c.close()
