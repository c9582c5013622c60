// MetricsServer is taskqd's `metrics_listen:` endpoint: it answers `GET /metrics` over HTTP/1.x
// with the text `taskq metrics` prints (common/metrics.h), on the supervisor's event loop. Each
// connection gets one answer and is closed; a request must arrive within a few seconds and fit
// in 8 KiB. Rendering reads every retained task record under the segment lock and blocks the
// loop meanwhile, so the text is rendered at most once per kMaxTextAge and served from memory in
// between, however often it is asked for. Nothing else is served, and nothing is authenticated:
// bind it to loopback or keep it behind a firewall.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"

namespace taskq {

class Segment;

class MetricsServer {
 public:
  // REQUIRES: `segment` outlives the server and the loop's pending handlers.
  MetricsServer(boost::asio::io_context* io, Segment* segment, std::string queue);
  // Binds ADDRESS:PORT (as common/options.h's ParseListenAddress reads it) and starts accepting.
  // kUnavailable naming metrics_listen and the fix when the address cannot be bound.
  Status Listen(const std::string& address_port);
  // Stops accepting; connections being answered finish.
  void Close();

  // How many connections are being answered at most; one beyond is closed unanswered.
  static constexpr int kMaxConnections = 8;
  // How old a served text may be.
  static constexpr std::chrono::seconds kMaxTextAge{5};

 private:
  class Connection;
  void Accept();
  // The metrics text, rendered again when older than kMaxTextAge.
  const std::string& Text();

  boost::asio::io_context* io_;
  Segment* segment_;
  std::string queue_;
  boost::asio::ip::tcp::acceptor acceptor_;
  // Shared with the connections: the loop may destroy a pending one after the server is gone.
  std::shared_ptr<int> connections_ = std::make_shared<int>(0);
  std::string text_;
  std::chrono::steady_clock::time_point rendered_at_;
  bool rendered_ = false;
};

}  // namespace taskq
