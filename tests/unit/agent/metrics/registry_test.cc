#include "agent/metrics/registry.h"

#include <doctest/doctest.h>

#include <cmath>

#include <string>
#include <thread>
#include <vector>

#include "agent/metrics/exposition.h"

namespace nw::metrics {
namespace {

TEST_SUITE("metrics.registry") {
  TEST_CASE("render.counter_with_labels") {
    Registry r;
    auto& c = r.counter("nw_http_requests_total", "HTTP requests served",
                        {"route", "method", "code"});
    c.with({"/v1/status", "GET", "200"}).inc();
    c.with({"/v1/status", "GET", "200"}).inc(2);
    c.with({"/v1/jobs", "POST", "201"}).inc(0.5);
    CHECK(r.render() ==
          "# HELP nw_http_requests_total HTTP requests served\n"
          "# TYPE nw_http_requests_total counter\n"
          "nw_http_requests_total{route=\"/v1/jobs\",method=\"POST\","
          "code=\"201\"} 0.5\n"
          "nw_http_requests_total{route=\"/v1/status\",method=\"GET\","
          "code=\"200\"} 3\n");
  }

  TEST_CASE("render.gauge_without_labels_is_exported_before_first_update") {
    Registry r;
    r.gauge("nw_queue_depth", "Jobs waiting");
    CHECK(r.render() ==
          "# HELP nw_queue_depth Jobs waiting\n"
          "# TYPE nw_queue_depth gauge\n"
          "nw_queue_depth 0\n");
  }

  TEST_CASE("render.gauge_set_add_dec") {
    Registry r;
    auto& g = r.gauge("nw_connections", "Open connections", {"port"});
    g.with({"7070"}).set(5);
    g.with({"7070"}).add(-1.5);
    g.with({"7070"}).dec();
    CHECK(g.with({"7070"}).value() == doctest::Approx(2.5));
    CHECK(r.render() ==
          "# HELP nw_connections Open connections\n"
          "# TYPE nw_connections gauge\n"
          "nw_connections{port=\"7070\"} 2.5\n");
  }

  TEST_CASE("render.label_family_without_children_is_left_out") {
    Registry r;
    r.counter("nw_errors_total", "Errors", {"kind"});
    CHECK(r.render().empty());
  }

  TEST_CASE("render.escapes_label_values_and_help") {
    Registry r;
    auto& c =
        r.counter("nw_x_total", "Help with \\ and\nnewline \"as is\"", {"v"});
    c.with({"a\\b\"c\nd"}).inc();
    CHECK(r.render() ==
          "# HELP nw_x_total Help with \\\\ and\\nnewline \"as is\"\n"
          "# TYPE nw_x_total counter\n"
          "nw_x_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
  }

  TEST_CASE("render.histogram_buckets_are_cumulative") {
    Registry r;
    auto& h = r.histogram("nw_request_seconds", "Request latency", {"route"},
                          {0.1, 0.5, 1});
    auto& child = h.with({"/v1/status"});
    child.observe(0.05);
    child.observe(0.1);  // on a bound: counted in that bucket (le)
    child.observe(0.3);
    child.observe(7);
    CHECK(r.render() ==
          "# HELP nw_request_seconds Request latency\n"
          "# TYPE nw_request_seconds histogram\n"
          "nw_request_seconds_bucket{route=\"/v1/status\",le=\"0.1\"} 2\n"
          "nw_request_seconds_bucket{route=\"/v1/status\",le=\"0.5\"} 3\n"
          "nw_request_seconds_bucket{route=\"/v1/status\",le=\"1\"} 3\n"
          "nw_request_seconds_bucket{route=\"/v1/status\",le=\"+Inf\"} 4\n"
          "nw_request_seconds_sum{route=\"/v1/status\"} 7.45\n"
          "nw_request_seconds_count{route=\"/v1/status\"} 4\n");
  }

  TEST_CASE("observe.nan_is_dropped") {
    Registry r;
    auto& h = r.histogram("nw_x_seconds", "x", {}, {1});
    h.with().observe(0.5);
    h.with().observe(std::nan(""));
    auto snap = h.with().snapshot();
    CHECK(snap.cumulative.back() == 1);
    CHECK(snap.sum == doctest::Approx(0.5));
  }

  TEST_CASE("render.histogram_without_labels_uses_default_buckets") {
    Registry r;
    auto& h = r.histogram("nw_tick_seconds", "Tick");
    h.with().observe(0.002);
    std::string out = r.render();
    CHECK(out.find("nw_tick_seconds_bucket{le=\"0.0005\"} 0\n") !=
          std::string::npos);
    CHECK(out.find("nw_tick_seconds_bucket{le=\"0.0025\"} 1\n") !=
          std::string::npos);
    CHECK(out.find("nw_tick_seconds_bucket{le=\"10\"} 1\n") !=
          std::string::npos);
    CHECK(out.find("nw_tick_seconds_bucket{le=\"+Inf\"} 1\n") !=
          std::string::npos);
    CHECK(out.find("nw_tick_seconds_count 1\n") != std::string::npos);
    CHECK(out.find("e-") == std::string::npos);
  }

  TEST_CASE("render.families_sorted_by_name") {
    Registry r;
    r.gauge("zz_last", "z");
    r.counter("aa_first_total", "a");
    r.add_collector([](std::vector<Sample>& out) {
      out.push_back(Sample{"mm_middle", "m", MetricType::gauge, {}, 1});
    });
    std::string out = r.render();
    auto a = out.find("aa_first_total");
    auto m = out.find("mm_middle");
    auto z = out.find("zz_last");
    REQUIRE(a != std::string::npos);
    REQUIRE(m != std::string::npos);
    REQUIRE(z != std::string::npos);
    CHECK(a < m);
    CHECK(m < z);
  }

  TEST_CASE("counter.same_name_returns_same_family") {
    Registry r;
    auto& a = r.counter("nw_runs_total", "Runs", {"job"});
    auto& b = r.counter("nw_runs_total", "Runs", {"job"});
    CHECK(&a == &b);
    a.with({"backup"}).inc();
    CHECK(b.with({"backup"}).value() == 1);
  }

  TEST_CASE("with.accepts_a_vector_of_values") {
    Registry r;
    auto& c = r.counter("nw_runs_total", "Runs", {"job", "node"});
    std::vector<std::string> values{"backup", "n1"};
    c.with(values).inc();
    CHECK(&c.with(values) == &c.with({"backup", "n1"}));
    CHECK(c.with({"backup", "n1"}).value() == 1);
  }

  TEST_CASE("counter.concurrent_increments_sum_correctly") {
    Registry r;
    auto& family = r.counter("nw_events_total", "Events", {"worker"});
    auto& h = r.histogram("nw_event_seconds", "Event time", {}, {1});
    constexpr int kThreads = 8;
    constexpr int kPerThread = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          // Half the updates share a child, half create/find their own.
          family.with({"shared"}).inc();
          family.with({"w" + std::to_string(t % 2)}).inc();
          h.with().observe(0.5);
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(family.with({"shared"}).value() == kThreads * kPerThread);
    CHECK(family.with({"w0"}).value() + family.with({"w1"}).value() ==
          kThreads * kPerThread);
    auto snap = h.with().snapshot();
    CHECK(snap.count == static_cast<std::uint64_t>(kThreads * kPerThread));
    CHECK(snap.cumulative.front() == snap.count);
    CHECK(snap.sum == doctest::Approx(0.5 * kThreads * kPerThread));
  }

  TEST_CASE("render.concurrent_with_updates_and_registration") {
    Registry r;
    auto& c = r.counter("nw_a_total", "A", {"k"});
    std::thread writer([&] {
      for (int i = 0; i < 2000; ++i) {
        c.with({std::to_string(i % 50)}).inc();
        r.gauge("nw_g" + std::to_string(i % 20), "G").with().set(i);
      }
    });
    for (int i = 0; i < 50; ++i) {
      std::string out = r.render();
      // Whole lines only: every family ends with a newline.
      CHECK((out.empty() || out.back() == '\n'));
    }
    writer.join();
    CHECK(r.render().find("nw_a_total{k=\"49\"} 40\n") != std::string::npos);
  }
}

TEST_SUITE("metrics.collector") {
  TEST_CASE("render.collected_samples_grouped_by_name") {
    Registry r;
    r.add_collector([](std::vector<Sample>& out) {
      out.push_back(Sample{"nw_jobs",
                           "Jobs by state",
                           MetricType::gauge,
                           {{"state", "running"}},
                           2});
      out.push_back(
          Sample{"nw_db_bytes", "DB size", MetricType::gauge, {}, 4096});
      out.push_back(Sample{"nw_jobs",
                           "Jobs by state",
                           MetricType::gauge,
                           {{"state", "queued\"x"}},
                           0});
    });
    CHECK(r.render() ==
          "# HELP nw_db_bytes DB size\n"
          "# TYPE nw_db_bytes gauge\n"
          "nw_db_bytes 4096\n"
          "# HELP nw_jobs Jobs by state\n"
          "# TYPE nw_jobs gauge\n"
          "nw_jobs{state=\"running\"} 2\n"
          "nw_jobs{state=\"queued\\\"x\"} 0\n");
  }

  TEST_CASE("remove_collector.stops_calls") {
    Registry r;
    int calls = 0;
    CollectorId id = r.add_collector([&](std::vector<Sample>& out) {
      ++calls;
      out.push_back(Sample{"nw_c", "c", MetricType::counter, {}, 1});
    });
    CHECK(r.render().find("nw_c 1") != std::string::npos);
    r.remove_collector(id);
    CHECK(r.render().empty());
    CHECK(calls == 1);
    r.remove_collector(id);  // unknown ids are ignored
  }
}

TEST_SUITE("metrics.exposition") {
  TEST_CASE("valid_metric_name.accepts_prometheus_names_only") {
    CHECK(valid_metric_name("nw_http_requests_total"));
    CHECK(valid_metric_name("job:rate5m"));
    CHECK(valid_metric_name("_x1"));
    CHECK_FALSE(valid_metric_name(""));
    CHECK_FALSE(valid_metric_name("1abc"));
    CHECK_FALSE(valid_metric_name("a-b"));
  }

  TEST_CASE("valid_label_name.rejects_reserved_and_colons") {
    CHECK(valid_label_name("route"));
    CHECK(valid_label_name("_x"));
    CHECK_FALSE(valid_label_name("__name__"));
    CHECK_FALSE(valid_label_name("a:b"));
    CHECK_FALSE(valid_label_name("9a"));
  }

  TEST_CASE("buckets.helpers") {
    CHECK(exponential_buckets(1, 2, 4) == std::vector<double>{1, 2, 4, 8});
    CHECK(linear_buckets(0, 5, 3) == std::vector<double>{0, 5, 10});
    CHECK(default_latency_buckets().front() == 0.0005);
    CHECK(default_latency_buckets().back() == 10);
  }
}

}  // namespace
}  // namespace nw::metrics
