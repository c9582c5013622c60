#include "daemon/metrics_server.h"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <istream>
#include <memory>

#include "common/metrics.h"
#include "common/options.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr size_t kMaxRequestBytes = 8192;

std::string Response(const char* status, const char* content_type, const std::string& body) {
  return fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, content_type, body.size(), body);
}

}  // namespace

// One accepted connection: reads the request head, writes one response, closes.
class MetricsServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(MetricsServer* server, tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        request_(kMaxRequestBytes),
        deadline_(socket_.get_executor()),
        connections_(server->connections_) {
    ++*connections_;
  }
  ~Connection() { --*connections_; }

  void Start() {
    auto self = shared_from_this();
    deadline_.expires_after(kRequestTimeout);
    deadline_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Close();
    });
    asio::async_read_until(socket_, request_, "\r\n\r\n",
                           [self](const boost::system::error_code& ec, size_t) {
                             if (ec) {
                               self->Close();
                               return;
                             }
                             self->Answer();
                           });
  }

 private:
  void Answer() {
    std::istream head(&request_);
    std::string method, target, version;
    head >> method >> target >> version;
    if (!version.starts_with("HTTP/1.")) {
      response_ = Response("400 Bad Request", "text/plain", "an HTTP/1.x request line expected\n");
    } else if (method != "GET" && method != "HEAD") {
      response_ = Response("405 Method Not Allowed", "text/plain", "only GET is served\n");
    } else if (target != "/metrics") {
      response_ = Response("404 Not Found", "text/plain", "the metrics are at /metrics\n");
    } else {
      response_ = Response("200 OK", kMetricsContentType, server_->Text());
      if (method == "HEAD") response_.resize(response_.find("\r\n\r\n") + 4);
    }
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(response_),
                      [self](const boost::system::error_code&, size_t) { self->Close(); });
  }

  void Close() {
    boost::system::error_code ignored;
    deadline_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  MetricsServer* server_;
  tcp::socket socket_;
  asio::streambuf request_;
  asio::steady_timer deadline_;
  std::string response_;
  std::shared_ptr<int> connections_;
};

MetricsServer::MetricsServer(asio::io_context* io, Segment* segment, std::string queue)
    : io_(io), segment_(segment), queue_(std::move(queue)), acceptor_(*io) {}

Status MetricsServer::Listen(const std::string& address_port) {
  std::string address;
  uint16_t port = 0;
  if (!ParseListenAddress(address_port, &address, &port)) {
    return Status::Invalid(fmt::format(
        "metrics_listen: must be ADDRESS:PORT, got {}; write e.g. 127.0.0.1:9464", address_port));
  }
  boost::system::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address(address, ec), port);
  if (!ec) acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable(fmt::format(
        "metrics_listen: cannot listen on {}: {}; choose a free port and an address of this host, "
        "or set metrics_listen: \"\" to turn the endpoint off",
        address_port, ec.message()));
  }
  spdlog::info("serving metrics at http://{}/metrics", address_port);
  Accept();
  return Status::Ok();
}

const std::string& MetricsServer::Text() {
  const auto now = std::chrono::steady_clock::now();
  if (!rendered_ || now - rendered_at_ >= kMaxTextAge) {
    text_ = RenderMetrics(*segment_, queue_);
    rendered_at_ = now;
    rendered_ = true;
  }
  return text_;
}

void MetricsServer::Close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void MetricsServer::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (*connections_ < kMaxConnections) {
        std::make_shared<Connection>(this, std::move(socket))->Start();
      } else {
        boost::system::error_code ignored;
        socket.close(ignored);
      }
    }
    Accept();
  });
}

}  // namespace taskq
