#include "server/generation_auth.h"

#include <algorithm>

#include "config/users_file.h"

namespace imapgate::server {

using config::AuthSourceConfig;

std::shared_ptr<const auth::GenerationAuth> BuildGenerationAuth(const config::Config& c,
                                                                 std::shared_ptr<auth::AuthServices> services,
                                                                 stats::Metrics* metrics, std::string* errors) {
  auto plan = std::make_shared<auth::GenerationAuth>();
  plan->services = services;
  const config::AuthConfig& a = c.auth;
  for (const AuthSourceConfig& s : a.sources) {
    auth::SourcePlan sp;
    sp.config = s;
    const std::string where = s.location.ToString() + ": auth source '" + s.name + "': ";
    if (s.type == AuthSourceConfig::Type::kFile) {
      auto db = config::LoadUsersFile(s.users_file, c.routing.default_domain);
      if (!db.ok()) {
        *errors += where + db.status().message() + "\n";
        continue;
      }
      sp.users = services ? services->Store(s.users_file) : std::make_shared<auth::UsersStore>(s.users_file);
      // A store that has users already (a reload) is updated by the UsersFileWatcher, which also
      // ends the sessions of app passwords the new file no longer has; this load only checked it.
      if (!sp.users->Get().db) sp.users->Set(std::move(*db), c.routing.default_domain);
    } else if (s.type == AuthSourceConfig::Type::kHttp) {
      auto url = httpc::ParseUrl(s.url);
      if (url.ok() && url->needs_resolution) {
        if (Status st = httpc::ResolveUrl(&*url); !st.ok()) url = st;
      }
      if (!url.ok()) {
        *errors += where + "url: " + url.status().message() + "\n";
        continue;
      }
      sp.url = std::move(*url);
    }
    if (metrics != nullptr) {
      StatusOr<int> index = metrics->AuthSourceIndex(s.name);
      if (!index.ok()) {
        *errors += where + index.status().message() + "\n";
        continue;
      }
      sp.metrics_index = *index;
    }
    plan->sources.push_back(std::move(sp));
  }
  auto index_of = [&](const std::string& name) -> size_t {
    for (size_t i = 0; i < plan->sources.size(); ++i) {
      if (plan->sources[i].config.name == name) return i;
    }
    return SIZE_MAX;
  };
  for (const config::ListenerConfig& l : c.listeners) {
    const std::vector<std::string>& names = l.auth_chain.empty() ? a.chain : l.auth_chain;
    std::vector<size_t> chain;
    for (const std::string& n : names) {
      const size_t i = index_of(n);
      if (i != SIZE_MAX) chain.push_back(i);  // a source that failed to load was reported above
    }
    plan->listener_chains.push_back(std::move(chain));
  }
  if (!a.push.url.empty()) {
    auto url = httpc::ParseUrl(a.push.url);
    if (url.ok() && url->needs_resolution) {
      if (Status st = httpc::ResolveUrl(&*url); !st.ok()) url = st;
    }
    if (!url.ok()) {
      *errors += a.push.location.ToString() + ": auth.second_factor.push.url: " + url.status().message() + "\n";
    } else {
      plan->push_url = std::move(*url);
    }
  }
  plan->push = a.push;
  plan->timeout = a.timeout;
  plan->remember_seconds = std::chrono::duration_cast<std::chrono::seconds>(a.remember_devices).count();
  plan->master_users = a.master_users;
  plan->default_domain = c.routing.default_domain;
  return plan;
}

}  // namespace imapgate::server
