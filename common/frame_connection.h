// FrameConnection reads and writes common/pilot_protocol.h frames on one TCP socket with
// Boost.Asio, on the io_context that owns the socket: taskqd's event loop on one side, a pilot's
// on the other. It never blocks. Callbacks stop once Close() is called or the peer is gone (then
// on_close runs once with the reason).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/pilot_protocol.h"

namespace taskq {

class FrameConnection : public std::enable_shared_from_this<FrameConnection> {
 public:
  using OnFrame = std::function<void(Frame& frame)>;
  using OnClose = std::function<void(const std::string& why)>;

  explicit FrameConnection(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  // Starts reading; frames longer than `max_frame_bytes` close the connection.
  void Start(OnFrame on_frame, OnClose on_close, uint32_t max_frame_bytes);
  // New callbacks for the frames after the current one (reading goes on).
  void Rebind(OnFrame on_frame, OnClose on_close) {
    on_frame_ = std::move(on_frame);
    on_close_ = std::move(on_close);
  }
  void set_max_frame_bytes(uint32_t bytes) { max_frame_bytes_ = bytes; }
  void Send(std::string bytes);
  void Close();
  bool closed() const { return closed_; }
  std::string peer() const { return peer_; }

 private:
  void ReadHeader();
  void ReadBody(uint32_t length);
  void WriteNext();
  void Fail(const std::string& why);

  boost::asio::ip::tcp::socket socket_;
  std::string peer_;
  unsigned char header_[4] = {};
  std::string body_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool closed_ = false;
  uint32_t max_frame_bytes_ = kMaxFrameBytes;
  OnFrame on_frame_;
  OnClose on_close_;
};

}  // namespace taskq
