# Install-time part of packaging/CMakeLists.txt (variables set by the install(CODE) before it):
# the unit with ExecStart under the prefix in effect, and /etc/taskq/taskq.yaml unless present.
file(READ "${TASKQ_UNIT_SOURCE}" unit)
set(bin "${CMAKE_INSTALL_PREFIX}/${TASKQ_BINDIR}/taskqd")
string(REPLACE "/usr/bin/taskqd" "${bin}" unit "${unit}")
file(MAKE_DIRECTORY "${TASKQ_STAGING}")
file(WRITE "${TASKQ_STAGING}/taskqd.service" "${unit}")
file(INSTALL "${TASKQ_STAGING}/taskqd.service"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# /etc/taskq whatever the prefix: taskq reads /etc/taskq/taskq.yaml, and so does the unit.
if(EXISTS "$ENV{DESTDIR}/etc/taskq/taskq.yaml")
  file(INSTALL "${TASKQ_CONFIG_SOURCE}" DESTINATION "/etc/taskq" RENAME taskq.yaml.new
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  message(STATUS "Kept the existing /etc/taskq/taskq.yaml; the new default is taskq.yaml.new")
else()
  file(INSTALL "${TASKQ_CONFIG_SOURCE}" DESTINATION "/etc/taskq"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
