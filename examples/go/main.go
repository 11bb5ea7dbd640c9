// A Turnout client in Go (IBM/sarama, the client's default partitioner).
//
// Publishes N sales and N authorize -> capture -> refund life cycles to payments.requests,
// reads payments.results (read_committed) and prints a summary. Each capture is sent once its
// authorization's result has arrived (it needs the result's channel and channel_ref), each
// refund once its capture's result has arrived. Exit 0 only if every sale and every life cycle
// was approved; 1 if a payment ended otherwise; 2 on timeout.
//
// usage: turnout-client [-bootstrap HOST:PORT] [-prefix P] [-merchant ID] [-count N] [-timeout D]
// (environment: TURNOUT_BOOTSTRAP, TURNOUT_PREFIX, TURNOUT_MERCHANT, TURNOUT_COUNT)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

const amount = 2500 // EUR 25.00: ends in 00, which the channel simulators approve

type result struct {
	PaymentID  string                `json:"payment_id"`
	RootID     string                `json:"root_id"`
	Type       string                `json:"type"`
	Status     string                `json:"status"`
	Reason     struct{ Code string } `json:"reason"`
	Channel    string                `json:"channel"`
	ChannelRef string                `json:"channel_ref"`
}

type client struct {
	producer sarama.SyncProducer
	topic    string
	merchant string
	cardBase int
	sent     map[string]string // payment_id -> type
	order    []string
	batch    []*sarama.ProducerMessage // the originals, sent together
}

func main() {
	bootstrap := flag.String("bootstrap", env("TURNOUT_BOOTSTRAP", "127.0.0.1:9092"), "Kafka bootstrap servers")
	prefix := flag.String("prefix", env("TURNOUT_PREFIX", ""), "kafka.name_prefix of the switch")
	merchant := flag.String("merchant", env("TURNOUT_MERCHANT", "m-kit"), "merchant id")
	count, _ := strconv.Atoi(env("TURNOUT_COUNT", "10"))
	flag.IntVar(&count, "count", count, "sales and life cycles to publish")
	timeout := flag.Duration("timeout", 120*time.Second, "how long to wait for all results")
	flag.Parse()

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_0_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted // only results of committed transactions
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond  // results come in short transactions: fetch often
	kafka, err := sarama.NewClient(strings.Split(*bootstrap, ","), cfg)
	must(err)
	defer kafka.Close()

	// 1. Where payments.results ends now, before anything is published: no result is missed.
	resultsTopic := *prefix + "payments.results"
	partitions, err := kafka.Partitions(resultsTopic)
	must(err)
	consumer, err := sarama.NewConsumerFromClient(kafka)
	must(err)
	defer consumer.Close()
	records := make(chan *sarama.ConsumerMessage, 1024)
	for _, p := range partitions {
		end, err := kafka.GetOffset(resultsTopic, p, sarama.OffsetNewest)
		must(err)
		pc, err := consumer.ConsumePartition(resultsTopic, p, end)
		must(err)
		go func() {
			for m := range pc.Messages() {
				records <- m
			}
		}()
	}

	// 2. The originals, each keyed by its root id (its own payment_id).
	producer, err := sarama.NewSyncProducerFromClient(kafka)
	must(err)
	defer producer.Close()
	c := &client{producer: producer, topic: *prefix + "payments.requests", merchant: *merchant,
		cardBase: rand.IntN(100_000_000), sent: map[string]string{}}
	run := fmt.Sprintf("kit-go-%d", time.Now().UnixMilli())
	for i := 0; i < count; i++ {
		c.original(fmt.Sprintf("%s-s%d", run, i), "sale")
		c.original(fmt.Sprintf("%s-a%d", run, i), "authorize")
	}
	must(producer.SendMessages(c.batch))

	// 3. Results, matched by payment_id; a follow-up goes out once its predecessor is approved.
	start := time.Now()
	results := map[string]result{}
	deadline := time.After(*timeout)
wait:
	for len(results) < len(c.sent) {
		select {
		case <-deadline:
			break wait
		case m := <-records:
			var r result
			if json.Unmarshal(m.Value, &r) != nil {
				continue
			}
			if _, ours := c.sent[r.PaymentID]; !ours {
				continue
			}
			if _, seen := results[r.PaymentID]; seen {
				continue
			}
			if r.Status == "rejected" && r.Reason.Code == "duplicate_request" {
				continue // answers a second copy of the request; the payment's own result comes separately
			}
			results[r.PaymentID] = r
			switch {
			case r.Status == "approved" && r.Type == "authorize":
				c.followUp("capture", strings.Replace(r.PaymentID, run+"-a", run+"-c", 1), r, amount)
			case r.Status == "approved" && r.Type == "capture":
				c.followUp("refund", strings.Replace(r.PaymentID, run+"-c", run+"-r", 1), r, amount/2)
			}
		}
	}
	os.Exit(c.summary(run, count, results, time.Since(start), *timeout))
}

// original queues a sale or authorization, keyed by its own payment_id (the root id).
func (c *client) original(id, kind string) {
	pan := luhnComplete(fmt.Sprintf("555555%09d", c.cardBase+len(c.sent)))
	c.batch = append(c.batch, c.message(id, map[string]any{
		"payment_id": id, "type": kind,
		"merchant":   map[string]any{"id": c.merchant, "mcc": "5411", "country": "DE"},
		"amount":     map[string]any{"value": amount, "currency": "EUR"},
		"instrument": map[string]any{"kind": "card", "pan": pan, "expiry": "3012"},
		"customer":   map[string]any{"id": "c-" + id, "country": "DE"},
	}))
}

// followUp sends a capture or refund of an approved result, keyed by the root id.
func (c *client) followUp(kind, id string, of result, value int) {
	_, _, err := c.producer.SendMessage(c.message(of.RootID, map[string]any{
		"payment_id": id, "type": kind,
		"merchant": map[string]any{"id": c.merchant},
		"amount":   map[string]any{"value": value, "currency": "EUR"},
		"original": map[string]any{"payment_id": of.RootID, "channel": of.Channel, "channel_ref": of.ChannelRef},
	}))
	must(err)
}

func (c *client) message(rootID string, req map[string]any) *sarama.ProducerMessage {
	req["created_at"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	body, _ := json.Marshal(req)
	id := req["payment_id"].(string)
	c.sent[id] = req["type"].(string)
	c.order = append(c.order, id)
	return &sarama.ProducerMessage{Topic: c.topic, Key: sarama.StringEncoder(rootID), Value: sarama.ByteEncoder(body)}
}

func (c *client) summary(run string, count int, results map[string]result, took, timeout time.Duration) int {
	kinds := []string{"sale", "authorize", "capture", "refund"}
	n := map[string]*[4]int{} // sent, approved, declined, other
	for _, k := range kinds {
		n[k] = &[4]int{}
	}
	others := map[string]int{}
	complete := 0
	for _, id := range c.order {
		kind := c.sent[id]
		n[kind][0]++
		r, ok := results[id]
		switch {
		case ok && r.Status == "approved":
			n[kind][1]++
			if kind == "refund" {
				complete++
			}
		case ok && r.Status == "declined":
			n[kind][2]++
		case ok:
			n[kind][3]++
			others[kind+" "+r.Status+"/"+r.Reason.Code]++
		default:
			n[kind][3]++
			others[kind+" no result"]++
		}
	}
	fmt.Printf("go kit (%s): %d sales, %d authorize -> capture -> refund; %d/%d results in %.1f s\n",
		run, count, count, len(results), len(c.sent), took.Seconds())
	fmt.Printf("  %-10s%6s%10s%10s%7s\n", "type", "sent", "approved", "declined", "other")
	for _, k := range kinds {
		fmt.Printf("  %-10s%6d%10d%10d%7d\n", k, n[k][0], n[k][1], n[k][2], n[k][3])
	}
	fmt.Printf("  life cycles complete: %d/%d\n", complete, count)
	keys := make([]string, 0, len(others))
	for k := range others {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  other: %s x%d\n", k, others[k])
	}
	if len(results) < len(c.sent) {
		fmt.Printf("FAILED: timeout after %.0f s, %d results missing\n", timeout.Seconds(), len(c.sent)-len(results))
		return 2
	}
	if n["sale"][1] != count || complete != count {
		fmt.Println("FAILED: not every payment ended as expected")
		return 1
	}
	fmt.Println("OK")
	return 0
}

func luhnComplete(digits string) string {
	sum := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[len(digits)-1-i]-'0') * (2 - i%2) // the check digit goes to the right
		if d > 9 {
			d -= 9
		}
		sum += d
	}
	return digits + strconv.Itoa((10-sum%10)%10)
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
