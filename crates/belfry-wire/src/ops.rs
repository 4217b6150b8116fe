//! The operation table: one line per operation — name, method, path template, the literal
//! `scope=`/`operation=` query value that selects it (if any), and the success status.
//! Both services share one table; their paths only overlap on `/tags`, where the operations are
//! identical in shape and the ARN says which resource is meant.

use http::Method;

/// Every operation Belfry answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::enum_variant_names)]
pub enum Op {
    // Identity
    CreateAppInstance,
    DescribeAppInstance,
    ListAppInstances,
    UpdateAppInstance,
    DeleteAppInstance,
    CreateAppInstanceUser,
    DescribeAppInstanceUser,
    ListAppInstanceUsers,
    UpdateAppInstanceUser,
    DeleteAppInstanceUser,
    CreateAppInstanceAdmin,
    DescribeAppInstanceAdmin,
    ListAppInstanceAdmins,
    DeleteAppInstanceAdmin,
    // Messaging: channels
    CreateChannel,
    DescribeChannel,
    UpdateChannel,
    DeleteChannel,
    ListChannels,
    // Both: tags
    ListTagsForResource,
    TagResource,
    UntagResource,
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
    r(Op::ListTagsForResource,      GET,    "/tags",                                                 None, 200),
    r(Op::TagResource,              POST,   "/tags", Some(("operation", "tag-resource")),                  204),
    r(Op::UntagResource,            POST,   "/tags", Some(("operation", "untag-resource")),                204),
];

impl Op {
    /// The operation's AWS name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Op::CreateAppInstance => "CreateAppInstance",
            Op::DescribeAppInstance => "DescribeAppInstance",
            Op::ListAppInstances => "ListAppInstances",
            Op::UpdateAppInstance => "UpdateAppInstance",
            Op::DeleteAppInstance => "DeleteAppInstance",
            Op::CreateAppInstanceUser => "CreateAppInstanceUser",
            Op::DescribeAppInstanceUser => "DescribeAppInstanceUser",
            Op::ListAppInstanceUsers => "ListAppInstanceUsers",
            Op::UpdateAppInstanceUser => "UpdateAppInstanceUser",
            Op::DeleteAppInstanceUser => "DeleteAppInstanceUser",
            Op::CreateAppInstanceAdmin => "CreateAppInstanceAdmin",
            Op::DescribeAppInstanceAdmin => "DescribeAppInstanceAdmin",
            Op::ListAppInstanceAdmins => "ListAppInstanceAdmins",
            Op::DeleteAppInstanceAdmin => "DeleteAppInstanceAdmin",
            Op::CreateChannel => "CreateChannel",
            Op::DescribeChannel => "DescribeChannel",
            Op::UpdateChannel => "UpdateChannel",
            Op::DeleteChannel => "DeleteChannel",
            Op::ListChannels => "ListChannels",
            Op::ListTagsForResource => "ListTagsForResource",
            Op::TagResource => "TagResource",
            Op::UntagResource => "UntagResource",
        }
    }
}
