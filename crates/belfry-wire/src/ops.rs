//! The operation table: one line per operation — name, method, path template, the literal
//! `scope=`/`operation=` query value that selects it (if any), and the success status.
//! Both services share one table; their paths only overlap on `/tags`, where the operations are
//! identical in shape and the ARN says which resource is meant.

use http::Method;

/// Declares the operation enum with each variant's AWS name.
macro_rules! operations {
    ($($(#[$doc:meta])* $op:ident),+ $(,)?) => {
        /// Every operation Belfry answers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(clippy::enum_variant_names)]
        pub enum Op { $($(#[$doc])* $op),+ }

        impl Op {
            /// Every variant, from the same list that declares them, so none can be left out.
            pub const ALL: &[Op] = &[$(Op::$op),+];

            /// The operation's AWS name, for logs.
            pub fn name(self) -> &'static str {
                match self { $(Op::$op => stringify!($op)),+ }
            }
        }
    };
}

operations! {
    // Identity
    CreateAppInstance, DescribeAppInstance, ListAppInstances, UpdateAppInstance, DeleteAppInstance,
    CreateAppInstanceUser, DescribeAppInstanceUser, ListAppInstanceUsers, UpdateAppInstanceUser,
    DeleteAppInstanceUser, CreateAppInstanceAdmin, DescribeAppInstanceAdmin, ListAppInstanceAdmins,
    DeleteAppInstanceAdmin,
    // Messaging: channels
    CreateChannel, DescribeChannel, UpdateChannel, DeleteChannel, ListChannels,
    // Messaging: memberships
    CreateChannelMembership, BatchCreateChannelMembership, DescribeChannelMembership,
    ListChannelMemberships, DeleteChannelMembership, DescribeChannelMembershipForAppInstanceUser,
    ListChannelMembershipsForAppInstanceUser,
    // Messaging: moderators
    CreateChannelModerator, DescribeChannelModerator, ListChannelModerators, DeleteChannelModerator,
    DescribeChannelModeratedByAppInstanceUser, ListChannelsModeratedByAppInstanceUser,
    // Messaging: bans
    CreateChannelBan, DescribeChannelBan, ListChannelBans, DeleteChannelBan,
    // Messaging: messages and read markers
    SendChannelMessage, GetChannelMessage, ListChannelMessages, UpdateChannelMessage,
    RedactChannelMessage, DeleteChannelMessage, UpdateChannelReadMarker,
    // Both: tags
    ListTagsForResource, TagResource, UntagResource,
    // Messaging: websocket sessions
    GetMessagingSessionEndpoint,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Route {
    /// The operation.
    pub op: Op,
    /// HTTP method.
    pub method: Method,
    /// Path template; `{name}` is one whole segment.
    pub path: &'static str,
    /// `(key, value)` of the literal query parameter that selects this operation.
    pub literal: Option<(&'static str, &'static str)>,
    /// Success status (the model's `responseCode`).
    pub status: u16,
}

const fn r(
    op: Op,
    method: Method,
    path: &'static str,
    literal: Option<(&'static str, &'static str)>,
    status: u16,
) -> Route {
    Route {
        op,
        method,
        path,
        literal,
        status,
    }
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// The table.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    r(Op::CreateAppInstance,        POST,   "/app-instances",                                        None, 201),
    r(Op::ListAppInstances,         GET,    "/app-instances",                                        None, 200),
    r(Op::DescribeAppInstance,      GET,    "/app-instances/{appInstanceArn}",                       None, 200),
    r(Op::UpdateAppInstance,        PUT,    "/app-instances/{appInstanceArn}",                       None, 200),
    r(Op::DeleteAppInstance,        DELETE, "/app-instances/{appInstanceArn}",                       None, 204),
    r(Op::CreateAppInstanceAdmin,   POST,   "/app-instances/{appInstanceArn}/admins",                None, 201),
    r(Op::ListAppInstanceAdmins,    GET,    "/app-instances/{appInstanceArn}/admins",                None, 200),
    r(Op::DescribeAppInstanceAdmin, GET,    "/app-instances/{appInstanceArn}/admins/{appInstanceAdminArn}", None, 200),
    r(Op::DeleteAppInstanceAdmin,   DELETE, "/app-instances/{appInstanceArn}/admins/{appInstanceAdminArn}", None, 204),
    r(Op::CreateAppInstanceUser,    POST,   "/app-instance-users",                                   None, 201),
    r(Op::ListAppInstanceUsers,     GET,    "/app-instance-users",                                   None, 200),
    r(Op::DescribeAppInstanceUser,  GET,    "/app-instance-users/{appInstanceUserArn}",              None, 200),
    r(Op::UpdateAppInstanceUser,    PUT,    "/app-instance-users/{appInstanceUserArn}",              None, 200),
    r(Op::DeleteAppInstanceUser,    DELETE, "/app-instance-users/{appInstanceUserArn}",              None, 204),
    r(Op::CreateChannel,            POST,   "/channels",                                             None, 201),
    r(Op::ListChannels,             GET,    "/channels",                                             None, 200),
    r(Op::DescribeChannel,          GET,    "/channels/{channelArn}",                                None, 200),
    r(Op::UpdateChannel,            PUT,    "/channels/{channelArn}",                                None, 200),
    r(Op::DeleteChannel,            DELETE, "/channels/{channelArn}",                                None, 204),
    r(Op::DescribeChannelMembershipForAppInstanceUser, GET, "/channels/{channelArn}", Some(("scope", "app-instance-user-membership")), 200),
    r(Op::DescribeChannelModeratedByAppInstanceUser,   GET, "/channels/{channelArn}", Some(("scope", "app-instance-user-moderated-channel")), 200),
    r(Op::ListChannelMembershipsForAppInstanceUser,    GET, "/channels", Some(("scope", "app-instance-user-memberships")), 200),
    r(Op::ListChannelsModeratedByAppInstanceUser,      GET, "/channels", Some(("scope", "app-instance-user-moderated-channels")), 200),
    r(Op::CreateChannelMembership,  POST,   "/channels/{channelArn}/memberships",                    None, 201),
    r(Op::BatchCreateChannelMembership, POST, "/channels/{channelArn}/memberships", Some(("operation", "batch-create")), 200),
    r(Op::ListChannelMemberships,   GET,    "/channels/{channelArn}/memberships",                    None, 200),
    r(Op::DescribeChannelMembership, GET,   "/channels/{channelArn}/memberships/{memberArn}",        None, 200),
    r(Op::DeleteChannelMembership,  DELETE, "/channels/{channelArn}/memberships/{memberArn}",        None, 204),
    r(Op::CreateChannelModerator,   POST,   "/channels/{channelArn}/moderators",                     None, 201),
    r(Op::ListChannelModerators,    GET,    "/channels/{channelArn}/moderators",                     None, 200),
    r(Op::DescribeChannelModerator, GET,    "/channels/{channelArn}/moderators/{channelModeratorArn}", None, 200),
    r(Op::DeleteChannelModerator,   DELETE, "/channels/{channelArn}/moderators/{channelModeratorArn}", None, 204),
    r(Op::CreateChannelBan,         POST,   "/channels/{channelArn}/bans",                           None, 201),
    r(Op::ListChannelBans,          GET,    "/channels/{channelArn}/bans",                           None, 200),
    r(Op::DescribeChannelBan,       GET,    "/channels/{channelArn}/bans/{memberArn}",               None, 200),
    r(Op::DeleteChannelBan,         DELETE, "/channels/{channelArn}/bans/{memberArn}",               None, 204),
    r(Op::SendChannelMessage,       POST,   "/channels/{channelArn}/messages",                       None, 201),
    r(Op::ListChannelMessages,      GET,    "/channels/{channelArn}/messages",                       None, 200),
    r(Op::GetChannelMessage,        GET,    "/channels/{channelArn}/messages/{messageId}",           None, 200),
    r(Op::UpdateChannelMessage,     PUT,    "/channels/{channelArn}/messages/{messageId}",           None, 200),
    r(Op::RedactChannelMessage,     POST,   "/channels/{channelArn}/messages/{messageId}", Some(("operation", "redact")), 200),
    r(Op::DeleteChannelMessage,     DELETE, "/channels/{channelArn}/messages/{messageId}",           None, 204),
    r(Op::UpdateChannelReadMarker,  PUT,    "/channels/{channelArn}/readMarker",                     None, 200),
    r(Op::ListTagsForResource,      GET,    "/tags",                                                 None, 200),
    r(Op::TagResource,              POST,   "/tags", Some(("operation", "tag-resource")),                  204),
    r(Op::UntagResource,            POST,   "/tags", Some(("operation", "untag-resource")),                204),
    r(Op::GetMessagingSessionEndpoint, GET, "/endpoints/messaging-session",                          None, 200),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router;

    /// Every operation is reachable through exactly one line of the table: a missing line would
    /// answer UnknownOperation, and a second one would make the first silently win.
    #[test]
    fn every_op_has_exactly_one_route() {
        for op in Op::ALL {
            let lines = ROUTES.iter().filter(|r| r.op == *op).count();
            assert_eq!(lines, 1, "{} has {lines} lines in ROUTES", op.name());
        }
        assert_eq!(
            ROUTES.len(),
            Op::ALL.len(),
            "a line names no known operation"
        );
    }

    #[test]
    fn no_two_lines_share_method_path_and_literal() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    (&a.method, a.path, a.literal) != (&b.method, b.path, b.literal),
                    "{} and {} share {} {} {:?}",
                    a.op.name(),
                    b.op.name(),
                    a.method,
                    a.path,
                    a.literal
                );
            }
        }
    }

    /// The router, not only the table, sends each line's request to its operation: fill every
    /// `{label}` of the template and add the literal query.
    #[test]
    fn the_router_resolves_each_line_to_its_op() {
        for route in ROUTES {
            let path: String = route
                .path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let query: Vec<(String, String)> = route
                .literal
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let found = router::find(&route.method, &path, &query)
                .map(|m| m.route.op)
                .map_err(|e| format!("{e:?}"));
            assert_eq!(found, Ok(route.op), "{} {path} {query:?}", route.method);
        }
    }
}
