// ControlServer is the daemon's end of the control socket (common/control_protocol.h): it accepts
// connections on the Asio loop, learns each peer's identity from the kernel (SO_PEERCRED and
// SO_PEERGROUPS, taken at connect time, never from the request), reads framed requests without
// ever blocking the loop, and hands each one to a handler. A peer cannot stall the daemon: frames
// are bounded, each connection has an idle deadline, and the number of connections is capped in
// total and per uid.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/control_protocol.h"
#include "common/status.h"

namespace taskq {

// Who is asking, as the kernel says.
struct ControlPeer {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  std::vector<gid_t> groups;  // supplementary groups at connect time
};

// What the handler answers: the reply object, and optionally a descriptor to pass with it (the
// server closes it once sent).
struct ControlReply {
  nlohmann::json body;
  int fd = -1;
};

using ControlHandler =
    std::function<void(const ControlPeer&, const ControlRequest&, ControlReply*)>;

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, ControlHandler handler);
  ~ControlServer();
  // Binds `path` (removing a stale socket first), gives it `mode` and the group `gid` (-1 = none)
  // and starts accepting.
  Status Listen(const std::string& path, mode_t mode, gid_t gid);
  // Stops accepting and closes every connection.
  void Close();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace taskq
