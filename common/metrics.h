// The metrics of one queue in the Prometheus text exposition format (version 0.0.4, which
// Prometheus, node_exporter's textfile collector and OpenMetrics parsers all read), computed
// from the segment alone: `taskq metrics` and taskqd's `metrics_listen:` endpoint print the same
// text. The families and what each means are listed in docs/METRICS.md.
#pragma once

#include <string>

namespace taskq {

class Segment;

// The content type to serve the text with over HTTP.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Renders every metric of `segment`, labelled queue=`queue`. Takes the segment lock for one pass
// over the task table (the histograms come from the retained task records).
std::string RenderMetrics(Segment& segment, const std::string& queue);

}  // namespace taskq
