//! The operations of AWS's two models that Belfry does not implement, by method, path template
//! and literal query selector, as `ops.rs` lists the others. The router recognises them so that
//! a client calling one gets 501 `NotImplementedException` naming it, rather than a 404 that
//! reads like a wrong endpoint. The router tries `ops::ROUTES` first, so no line here can shadow
//! an implemented operation.

use http::Method;

/// One operation Belfry recognises but does not implement.
#[derive(Debug, Clone)]
pub struct Unimplemented {
    /// The operation's AWS name.
    pub name: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template; `{name}` is one whole segment.
    pub path: &'static str,
    /// `(key, value)` of the literal query parameter that selects it.
    pub literal: Option<(&'static str, &'static str)>,
}

const fn u(
    name: &'static str,
    method: Method,
    path: &'static str,
    literal: Option<(&'static str, &'static str)>,
) -> Unimplemented {
    Unimplemented {
        name,
        method,
        path,
        literal,
    }
}

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// The table: 13 Identity operations, then 18 Messaging ones.
#[rustfmt::skip]
pub const UNIMPLEMENTED: &[Unimplemented] = &[
    // Identity: bots
    u("CreateAppInstanceBot",   POST,   "/app-instance-bots",                     None),
    u("ListAppInstanceBots",    GET,    "/app-instance-bots",                     None),
    u("DescribeAppInstanceBot", GET,    "/app-instance-bots/{appInstanceBotArn}", None),
    u("UpdateAppInstanceBot",   PUT,    "/app-instance-bots/{appInstanceBotArn}", None),
    u("DeleteAppInstanceBot",   DELETE, "/app-instance-bots/{appInstanceBotArn}", None),
    // Identity: user endpoints (push notifications)
    u("RegisterAppInstanceUserEndpoint",   POST,   "/app-instance-users/{appInstanceUserArn}/endpoints", None),
    u("ListAppInstanceUserEndpoints",      GET,    "/app-instance-users/{appInstanceUserArn}/endpoints", None),
    u("DescribeAppInstanceUserEndpoint",   GET,    "/app-instance-users/{appInstanceUserArn}/endpoints/{endpointId}", None),
    u("UpdateAppInstanceUserEndpoint",     PUT,    "/app-instance-users/{appInstanceUserArn}/endpoints/{endpointId}", None),
    u("DeregisterAppInstanceUserEndpoint", DELETE, "/app-instance-users/{appInstanceUserArn}/endpoints/{endpointId}", None),
    // Identity: retention and expiration
    u("GetAppInstanceRetentionSettings",      GET, "/app-instances/{appInstanceArn}/retention-settings", None),
    u("PutAppInstanceRetentionSettings",      PUT, "/app-instances/{appInstanceArn}/retention-settings", None),
    u("PutAppInstanceUserExpirationSettings", PUT, "/app-instance-users/{appInstanceUserArn}/expiration-settings", None),
    // Messaging: channel flows
    u("CreateChannelFlow",   POST,   "/channel-flows",                  None),
    u("ListChannelFlows",    GET,    "/channel-flows",                  None),
    u("DescribeChannelFlow", GET,    "/channel-flows/{channelFlowArn}", None),
    u("UpdateChannelFlow",   PUT,    "/channel-flows/{channelFlowArn}", None),
    u("DeleteChannelFlow",   DELETE, "/channel-flows/{channelFlowArn}", None),
    u("AssociateChannelFlow",    PUT,    "/channels/{channelArn}/channel-flow",                  None),
    u("DisassociateChannelFlow", DELETE, "/channels/{channelArn}/channel-flow/{channelFlowArn}", None),
    u("ChannelFlowCallback",     POST,   "/channels/{channelArn}", Some(("operation", "channel-flow-callback"))),
    u("ListChannelsAssociatedWithChannelFlow", GET, "/channels", Some(("scope", "channel-flow-associations"))),
    // Messaging: streaming configurations
    u("GetMessagingStreamingConfigurations",    GET,    "/app-instances/{appInstanceArn}/streaming-configurations", None),
    u("PutMessagingStreamingConfigurations",    PUT,    "/app-instances/{appInstanceArn}/streaming-configurations", None),
    u("DeleteMessagingStreamingConfigurations", DELETE, "/app-instances/{appInstanceArn}/streaming-configurations", None),
    // Messaging: membership preferences, message status, sub-channels, expiration, search
    u("GetChannelMembershipPreferences", GET, "/channels/{channelArn}/memberships/{memberArn}/preferences", None),
    u("PutChannelMembershipPreferences", PUT, "/channels/{channelArn}/memberships/{memberArn}/preferences", None),
    u("GetChannelMessageStatus", GET,  "/channels/{channelArn}/messages/{messageId}", Some(("scope", "message-status"))),
    u("ListSubChannels",         GET,  "/channels/{channelArn}/subchannels",          None),
    u("PutChannelExpirationSettings", PUT, "/channels/{channelArn}/expiration-settings", None),
    u("SearchChannels",          POST, "/channels", Some(("operation", "search"))),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::ops::{Op, ROUTES};
    use crate::router::{self, NoRoute};

    /// The operation names of AWS's models: chime-sdk-identity 2021-04-20 (30) and
    /// chime-sdk-messaging 2021-05-15 (51), 81 in all with the three tag operations both
    /// services have. The models are not in the repository, so their lists are here.
    #[rustfmt::skip]
    const IDENTITY: &[&str] = &[
        "CreateAppInstance", "CreateAppInstanceAdmin", "CreateAppInstanceBot",
        "CreateAppInstanceUser", "DeleteAppInstance", "DeleteAppInstanceAdmin",
        "DeleteAppInstanceBot", "DeleteAppInstanceUser", "DeregisterAppInstanceUserEndpoint",
        "DescribeAppInstance", "DescribeAppInstanceAdmin", "DescribeAppInstanceBot",
        "DescribeAppInstanceUser", "DescribeAppInstanceUserEndpoint",
        "GetAppInstanceRetentionSettings", "ListAppInstanceAdmins", "ListAppInstanceBots",
        "ListAppInstanceUserEndpoints", "ListAppInstanceUsers", "ListAppInstances",
        "ListTagsForResource", "PutAppInstanceRetentionSettings",
        "PutAppInstanceUserExpirationSettings", "RegisterAppInstanceUserEndpoint", "TagResource",
        "UntagResource", "UpdateAppInstance", "UpdateAppInstanceBot", "UpdateAppInstanceUser",
        "UpdateAppInstanceUserEndpoint",
    ];
    #[rustfmt::skip]
    const MESSAGING: &[&str] = &[
        "AssociateChannelFlow", "BatchCreateChannelMembership", "ChannelFlowCallback",
        "CreateChannel", "CreateChannelBan", "CreateChannelFlow", "CreateChannelMembership",
        "CreateChannelModerator", "DeleteChannel", "DeleteChannelBan", "DeleteChannelFlow",
        "DeleteChannelMembership", "DeleteChannelMessage", "DeleteChannelModerator",
        "DeleteMessagingStreamingConfigurations", "DescribeChannel", "DescribeChannelBan",
        "DescribeChannelFlow", "DescribeChannelMembership",
        "DescribeChannelMembershipForAppInstanceUser",
        "DescribeChannelModeratedByAppInstanceUser", "DescribeChannelModerator",
        "DisassociateChannelFlow", "GetChannelMembershipPreferences", "GetChannelMessage",
        "GetChannelMessageStatus", "GetMessagingSessionEndpoint",
        "GetMessagingStreamingConfigurations", "ListChannelBans", "ListChannelFlows",
        "ListChannelMemberships", "ListChannelMembershipsForAppInstanceUser",
        "ListChannelMessages", "ListChannelModerators", "ListChannels",
        "ListChannelsAssociatedWithChannelFlow", "ListChannelsModeratedByAppInstanceUser",
        "ListSubChannels", "ListTagsForResource", "PutChannelExpirationSettings",
        "PutChannelMembershipPreferences", "PutMessagingStreamingConfigurations",
        "RedactChannelMessage", "SearchChannels", "SendChannelMessage", "TagResource",
        "UntagResource", "UpdateChannel", "UpdateChannelFlow", "UpdateChannelMessage",
        "UpdateChannelReadMarker",
    ];

    #[test]
    fn implemented_and_unimplemented_are_exactly_the_models_operations() {
        assert_eq!((IDENTITY.len(), MESSAGING.len()), (30, 51));
        let models: BTreeSet<&str> = IDENTITY.iter().chain(MESSAGING).copied().collect();
        let implemented: BTreeSet<&str> = Op::ALL.iter().map(|op| op.name()).collect();
        let unimplemented: BTreeSet<&str> = UNIMPLEMENTED.iter().map(|u| u.name).collect();
        assert_eq!(unimplemented.len(), UNIMPLEMENTED.len(), "a name twice");
        assert_eq!(
            implemented.intersection(&unimplemented).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "both implemented and not"
        );
        let known: BTreeSet<&str> = implemented.union(&unimplemented).copied().collect();
        assert_eq!(
            models.difference(&known).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "in the models, in neither table"
        );
        assert_eq!(
            known.difference(&models).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "in a table, not in the models"
        );
        let identity = UNIMPLEMENTED
            .iter()
            .filter(|u| IDENTITY.contains(&u.name))
            .count();
        assert_eq!((identity, UNIMPLEMENTED.len() - identity), (13, 18));
    }

    /// Each line reaches its 501 through the router, and no line shares its method, path and
    /// selector with an implemented one (the router would never reach it).
    #[test]
    fn the_router_resolves_each_line_to_not_implemented() {
        for line in UNIMPLEMENTED {
            assert!(
                !ROUTES
                    .iter()
                    .any(|r| (&r.method, r.path, r.literal)
                        == (&line.method, line.path, line.literal)),
                "{} repeats an implemented route",
                line.name
            );
            let path: String = line
                .path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let query: Vec<(String, String)> = line
                .literal
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let found = router::find(&line.method, &path, &query).map(|m| m.route.op);
            assert_eq!(
                found,
                Err(NoRoute::NotImplemented(line.name)),
                "{} {path} {query:?}",
                line.method
            );
        }
    }
}
