// PilotListener accepts the TCP connections of Slurm pilots (taskq-worker) on taskqd's event loop
// and lets through only those that prove, within a few seconds and in their first frame, that
// they hold the secret of a pilot taskqd submitted (`authenticate`). Every refusal is logged with
// the peer's address and closes the connection; nothing in the hello but the pilot number and
// the secret is used.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common/frame_connection.h"
#include "common/status.h"

namespace taskq {

class PilotListener {
 public:
  // True when `secret` is the one of pilot `number`, which may connect now.
  using Authenticate = std::function<bool(uint32_t number, const std::string& secret)>;
  // An authenticated pilot: the connection is now the caller's (start it with its own callbacks).
  using OnPilot = std::function<void(uint32_t number, std::shared_ptr<FrameConnection> connection,
                                     const nlohmann::json& hello)>;

  PilotListener(boost::asio::io_context* io, Authenticate authenticate, OnPilot on_pilot)
      : io_(io),
        acceptor_(*io),
        authenticate_(std::move(authenticate)),
        on_pilot_(std::move(on_pilot)) {}
  ~PilotListener() { Close(); }

  // Listens on ADDRESS:PORT (port 0: any free one).
  Status Listen(const std::string& listen);
  // The address pilots are told to connect to: the bound one, or this host's name when bound to
  // every interface.
  std::string advertised() const { return advertised_; }
  void Close();

 private:
  void Accept();
  void Greet(std::shared_ptr<FrameConnection> connection);

  boost::asio::io_context* io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Authenticate authenticate_;
  OnPilot on_pilot_;
  std::string advertised_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace taskq
