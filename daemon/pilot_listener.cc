#include "daemon/pilot_listener.h"

#include <unistd.h>

#include <boost/asio/steady_timer.hpp>

#include "common/options.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

constexpr auto kHelloTimeout = std::chrono::seconds(10);

}  // namespace

Status PilotListener::Listen(const std::string& listen) {
  std::string address;
  uint16_t port = 0;
  if (!ParsePilotListen(listen, &address, &port)) {
    return Status::Invalid(fmt::format("slurm.pilot_listen: '{}' is not ADDRESS:PORT", listen));
  }
  try {
    const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address(address), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    const auto bound = acceptor_.local_endpoint();
    std::string host = bound.address().to_string();
    if (bound.address().is_unspecified()) {
      char name[256] = {};
      ::gethostname(name, sizeof name - 1);
      host = name;
    }
    advertised_ = bound.address().is_v6() && !bound.address().is_unspecified()
                      ? fmt::format("[{}]:{}", host, bound.port())
                      : fmt::format("{}:{}", host, bound.port());
  } catch (const boost::system::system_error& e) {
    return Status::Failed(
        fmt::format("slurm.pilot_listen: cannot listen on {}: {}", listen, e.what()));
  }
  Accept();
  return Status::Ok();
}

void PilotListener::Close() {
  *alive_ = false;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void PilotListener::Accept() {
  std::weak_ptr<bool> alive = alive_;
  acceptor_.async_accept(
      [this, alive](const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket) {
        if (alive.expired() || !*alive.lock()) return;
        if (!ec) Greet(std::make_shared<FrameConnection>(std::move(socket)));
        if (ec != boost::asio::error::operation_aborted) Accept();
      });
}

void PilotListener::Greet(std::shared_ptr<FrameConnection> connection) {
  auto timer = std::make_shared<boost::asio::steady_timer>(*io_, kHelloTimeout);
  std::weak_ptr<FrameConnection> weak = connection;
  timer->async_wait([weak](const boost::system::error_code& ec) {
    auto c = weak.lock();
    if (ec || !c || c->closed()) return;
    spdlog::warn("pilot connection from {} refused: no hello within {} s", c->peer(),
                 std::chrono::duration_cast<std::chrono::seconds>(kHelloTimeout).count());
    c->Close();
  });
  std::weak_ptr<bool> alive = alive_;
  connection->Start(
      [this, alive, weak, timer](Frame& frame) {
        auto c = weak.lock();
        if (!c) return;
        timer->cancel();
        if (alive.expired() || !*alive.lock()) {
          c->Close();
          return;
        }
        const nlohmann::json& j = frame.json;
        const bool hello = frame.kind == 'J' && j["type"] == "hello" && j.contains("pilot") &&
                           j["pilot"].is_number_unsigned() && j.contains("secret") &&
                           j["secret"].is_string();
        if (!hello) {
          spdlog::warn("pilot connection from {} refused: its first frame is not a hello",
                       c->peer());
          c->Close();
          return;
        }
        const auto number = j["pilot"].get<uint64_t>();
        if (number > UINT32_MAX ||
            !authenticate_(static_cast<uint32_t>(number), j["secret"].get<std::string>())) {
          spdlog::warn(
              "pilot connection from {} refused: wrong secret, or pilot {} is unknown, "
              "finished or already connected",
              c->peer(), number);
          c->Close();
          return;
        }
        c->set_max_frame_bytes(kMaxFrameBytes);
        on_pilot_(static_cast<uint32_t>(number), c, j);
      },
      [](const std::string&) {}, kMaxHelloBytes);
}

}  // namespace taskq
