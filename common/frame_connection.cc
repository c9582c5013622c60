#include "common/frame_connection.h"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "fmt/format.h"

namespace taskq {

void FrameConnection::Start(OnFrame on_frame, OnClose on_close, uint32_t max_frame_bytes) {
  on_frame_ = std::move(on_frame);
  on_close_ = std::move(on_close);
  max_frame_bytes_ = max_frame_bytes;
  boost::system::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown peer" : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  ReadHeader();
}

void FrameConnection::ReadHeader() {
  auto self = shared_from_this();
  boost::asio::async_read(
      socket_, boost::asio::buffer(header_), [self](const boost::system::error_code& ec, size_t) {
        if (self->closed_) return;
        if (ec) {
          self->Fail(ec == boost::asio::error::eof ? "connection closed by the peer"
                                                   : "read failed: " + ec.message());
          return;
        }
        const uint32_t length = FrameLength(self->header_);
        if (length == 0 || length > self->max_frame_bytes_) {
          self->Fail(
              fmt::format("frame of {} bytes refused (limit {})", length, self->max_frame_bytes_));
          return;
        }
        self->ReadBody(length);
      });
}

void FrameConnection::ReadBody(uint32_t length) {
  body_.resize(length);
  auto self = shared_from_this();
  boost::asio::async_read(socket_, boost::asio::buffer(body_.data(), body_.size()),
                          [self](const boost::system::error_code& ec, size_t) {
                            if (self->closed_) return;
                            if (ec) {
                              self->Fail("read failed: " + ec.message());
                              return;
                            }
                            Frame frame;
                            if (!DecodeFrameBody(self->body_, &frame)) {
                              self->Fail("malformed frame");
                              return;
                            }
                            // A copy: the handler may Rebind or Close (replacing itself).
                            const OnFrame handler = self->on_frame_;
                            if (handler) handler(frame);
                            if (!self->closed_) self->ReadHeader();
                          });
}

void FrameConnection::Send(std::string bytes) {
  if (closed_) return;
  out_.push_back(std::move(bytes));
  if (!writing_) WriteNext();
}

void FrameConnection::WriteNext() {
  if (out_.empty() || closed_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  // Frames queued meanwhile go out in one write.
  std::string batch;
  while (!out_.empty() && batch.size() < (1u << 20)) {
    batch += out_.front();
    out_.pop_front();
  }
  auto self = shared_from_this();
  auto buffer = std::make_shared<std::string>(std::move(batch));
  boost::asio::async_write(socket_, boost::asio::buffer(*buffer),
                           [self, buffer](const boost::system::error_code& ec, size_t) {
                             if (self->closed_) return;
                             if (ec) {
                               self->Fail("write failed: " + ec.message());
                               return;
                             }
                             self->WriteNext();
                           });
}

void FrameConnection::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  on_frame_ = nullptr;
  on_close_ = nullptr;
}

void FrameConnection::Fail(const std::string& why) {
  OnClose on_close = std::move(on_close_);
  Close();
  if (on_close) on_close(why);
}

}  // namespace taskq
