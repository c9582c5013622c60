#include "daemon/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <map>

#include "common/json_text.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

constexpr size_t kMaxConnections = 256;
constexpr size_t kMaxConnectionsPerUid = 32;
// A connection that has not sent a whole request for this long is closed (a member must not pin
// the daemon's memory or descriptors by connecting and saying nothing).
constexpr auto kIdleTimeout = std::chrono::seconds(60);

ControlPeer PeerOf(int fd) {
  ControlPeer peer;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.uid = cred.uid;
    peer.gid = cred.gid;
    peer.pid = cred.pid;
  }
  std::vector<gid_t> groups(64);
  len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0 && errno == ERANGE) {
    groups.resize(len / sizeof(gid_t));
    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len);
  }
  groups.resize(len / sizeof(gid_t));
  peer.groups = std::move(groups);
  return peer;
}

}  // namespace

class ControlServer::Impl : public std::enable_shared_from_this<ControlServer::Impl> {
 public:
  Impl(asio::io_context& io, ControlHandler handler)
      : io_(io), acceptor_(io), handler_(std::move(handler)) {}

  Status Listen(const std::string& path, mode_t mode, gid_t gid) {
    ::unlink(path.c_str());
    boost::system::error_code ec;
    acceptor_.open(local(), ec);
    // Bind under a private umask so the socket is never, even for an instant, more open than
    // `mode`.
    const mode_t old_umask = ::umask(0177);
    if (!ec) acceptor_.bind(local::endpoint(path), ec);
    ::umask(old_umask);
    if (!ec) acceptor_.listen(64, ec);
    if (ec) {
      return Status::Unavailable(
          fmt::format("cannot listen on control socket {}: {}", path, ec.message()));
    }
    if ((gid != static_cast<gid_t>(-1) &&
         ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) ||
        ::chmod(path.c_str(), mode) != 0) {
      return Status::Unavailable(
          fmt::format("cannot set the access of {}: {}", path, std::strerror(errno)));
    }
    Accept();
    return Status::Ok();
  }

  void Close() {
    closed_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& [id, session] : sessions_) session->Stop();
    sessions_.clear();
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(asio::io_context& io, local::socket s, ControlPeer p, uint64_t i)
        : socket(std::move(s)), peer(std::move(p)), idle(io), id(i) {}
    void Stop() {
      boost::system::error_code ignored;
      idle.cancel();
      socket.close(ignored);
    }
    local::socket socket;
    ControlPeer peer;
    asio::steady_timer idle;
    uint64_t id;
    unsigned char length[4] = {};
    std::string body;
    std::string reply;
  };

  void Accept() {
    acceptor_.async_accept(
        [self = shared_from_this()](const boost::system::error_code& ec, local::socket socket) {
          if (self->closed_) return;
          if (!ec) self->Admit(std::move(socket));
          self->Accept();
        });
  }

  void Admit(local::socket socket) {
    ControlPeer peer = PeerOf(socket.native_handle());
    size_t same_uid = 0;
    for (auto& [id, s] : sessions_) same_uid += s->peer.uid == peer.uid ? 1 : 0;
    if (sessions_.size() >= kMaxConnections || same_uid >= kMaxConnectionsPerUid) {
      spdlog::warn("control: refused a connection of uid {}: too many open ({} of its own)",
                   peer.uid, same_uid);
      return;  // closing the socket tells the client
    }
    auto session = std::make_shared<Session>(io_, std::move(socket), std::move(peer), ++next_id_);
    sessions_[session->id] = session;
    ReadLength(session);
  }

  void End(const std::shared_ptr<Session>& session) {
    session->Stop();
    sessions_.erase(session->id);
  }

  void ArmIdle(const std::shared_ptr<Session>& session) {
    session->idle.expires_after(kIdleTimeout);
    session->idle.async_wait(
        [self = shared_from_this(), session](const boost::system::error_code& ec) {
          if (!ec) self->End(session);
        });
  }

  void ReadLength(const std::shared_ptr<Session>& session) {
    ArmIdle(session);
    asio::async_read(
        session->socket, asio::buffer(session->length),
        [self = shared_from_this(), session](const boost::system::error_code& ec, size_t) {
          if (ec) return self->End(session);
          const uint32_t n = uint32_t{session->length[0]} | uint32_t{session->length[1]} << 8 |
                             uint32_t{session->length[2]} << 16 |
                             uint32_t{session->length[3]} << 24;
          if (n > kMaxControlFrameBytes) {
            spdlog::warn("control: uid {} sent a {} byte request; closed", session->peer.uid, n);
            return self->End(session);
          }
          session->body.resize(n);
          self->ReadBody(session);
        });
  }

  void ReadBody(const std::shared_ptr<Session>& session) {
    asio::async_read(
        session->socket, asio::buffer(session->body),
        [self = shared_from_this(), session](const boost::system::error_code& ec, size_t) {
          if (ec) return self->End(session);
          session->idle.cancel();
          self->Handle(session);
        });
  }

  void Handle(const std::shared_ptr<Session>& session) {
    ControlRequest request;
    ControlReply reply;
    Status parsed = ParseControlRequest(session->body, &request);
    session->body.clear();
    session->body.shrink_to_fit();
    if (!parsed.ok()) {
      reply.body = {{"code", parsed.exit_code()}, {"message", parsed.message()}};
    } else {
      handler_(session->peer, request, &reply);
    }
    if (!reply.body.contains("code")) reply.body["code"] = 0;
    const std::string text = JsonText(reply.body);
    const uint32_t n = static_cast<uint32_t>(text.size());
    session->reply.assign({static_cast<char>(n), static_cast<char>(n >> 8),
                           static_cast<char>(n >> 16), static_cast<char>(n >> 24)});
    session->reply += text;
    size_t skip = 0;
    if (reply.fd >= 0) {
      // The descriptor travels with the frame's first byte; the rest goes asynchronously.
      iovec iov{session->reply.data(), 1};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &reply.fd, sizeof(int));
      const ssize_t sent =
          ::sendmsg(session->socket.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(reply.fd);
      if (sent != 1) return End(session);  // a peer that does not read its replies is dropped
      skip = 1;
    }
    asio::async_write(
        session->socket, asio::buffer(session->reply.data() + skip, session->reply.size() - skip),
        [self = shared_from_this(), session](const boost::system::error_code& ec, size_t) {
          if (ec) return self->End(session);
          session->reply.clear();
          self->ReadLength(session);
        });
    ArmIdle(session);  // a peer that never reads its reply is closed too
  }

  asio::io_context& io_;
  local::acceptor acceptor_;
  ControlHandler handler_;
  std::map<uint64_t, std::shared_ptr<Session>> sessions_;
  uint64_t next_id_ = 0;
  bool closed_ = false;
};

ControlServer::ControlServer(asio::io_context& io, ControlHandler handler)
    : impl_(std::make_shared<Impl>(io, std::move(handler))) {}

ControlServer::~ControlServer() { impl_->Close(); }

Status ControlServer::Listen(const std::string& path, mode_t mode, gid_t gid) {
  return impl_->Listen(path, mode, gid);
}

void ControlServer::Close() { impl_->Close(); }

}  // namespace taskq
