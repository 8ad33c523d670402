// LISTEN loop on a dedicated libpq connection with reconnect.
#include "core/db/Listener.h"

#include <Poco/Logger.h>

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace archestra::db {

Listener::Listener(std::string connectionString, std::vector<std::string> channels, Callback onNotify,
                   std::function<void()> onReconnect, Poco::Logger* logger)
    : _connectionString(std::move(connectionString)),
      _channels(std::move(channels)),
      _onNotify(std::move(onNotify)),
      _onReconnect(std::move(onReconnect)),
      _logger(logger ? *logger : Poco::Logger::get("archestra.db.listener")) {
    if (_connectionString.find("connect_timeout") == std::string::npos)
        _connectionString += " connect_timeout=5";
}

Listener::~Listener() {
    stop();
}

void Listener::start() {
    if (_thread.joinable()) return;
    _stop = false;
    _thread = std::thread([this] { run(); });
}

void Listener::stop() {
    _stop = true;
    if (_thread.joinable()) _thread.join();
}

void Listener::run() {
    long delay_ms = 250;
    bool firstConnect = true;
    while (!_stop) {
        PGconn* conn = PQconnectdb(_connectionString.c_str());
        bool ok = PQstatus(conn) == CONNECTION_OK;
        for (size_t i = 0; ok && i < _channels.size(); ++i) {
            char* ident = PQescapeIdentifier(conn, _channels[i].c_str(), _channels[i].size());
            PGresult* r = PQexec(conn, ("LISTEN " + std::string(ident)).c_str());
            PQfreemem(ident);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        if (!ok) {
            _logger.warning("cannot LISTEN for database notifications: %s; retrying in %ld ms",
                            std::string(PQerrorMessage(conn)), delay_ms);
            PQfinish(conn);
            for (long waited = 0; waited < delay_ms && !_stop; waited += 50) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            delay_ms = std::min(delay_ms * 2, 5000L);
            continue;
        }
        delay_ms = 250;
        _listening = true;
        if (!firstConnect) {
            _logger.information("database notifications: listening again after reconnect");
            if (_onReconnect) _onReconnect();
        }
        firstConnect = false;
        while (!_stop) {
            pollfd pfd{PQsocket(conn), POLLIN, 0};
            int ready = ::poll(&pfd, 1, 200);
            if (ready < 0) continue;
            if (ready > 0 && PQconsumeInput(conn) == 0) break;
            if (PQstatus(conn) != CONNECTION_OK) break;
            while (PGnotify* n = PQnotifies(conn)) {
                std::string channel = n->relname, payload = n->extra ? n->extra : "";
                PQfreemem(n);
                try {
                    _onNotify(channel, payload);
                } catch (const std::exception& e) {
                    _logger.error("database notification handler for channel %s failed: %s", channel,
                                  std::string(e.what()));
                }
            }
        }
        _listening = false;
        if (!_stop) _logger.warning("database notification connection lost; reconnecting");
        PQfinish(conn);
    }
}

}  // namespace archestra::db
