//! CreateAppInstanceUser … DeleteAppInstanceUser.

use belfry_core::service::{CreateAppInstanceUser, UpdateAppInstanceUser};
use belfry_core::Services;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::Reply;
use crate::dto::{
    tag_inputs, AppInstanceUserDto, AppInstanceUserSummaryDto, ExpirationDto, TagDto,
};
use crate::error::ApiError;
use crate::request::ApiRequest;

const USER: &str = "appInstanceUserArn";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateBody {
    app_instance_arn: Option<String>,
    app_instance_user_id: Option<String>,
    name: Option<String>,
    metadata: Option<String>,
    client_request_token: Option<String>,
    tags: Option<Vec<TagDto>>,
    expiration_settings: Option<ExpirationDto>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArnReply {
    app_instance_user_arn: String,
}

pub(super) async fn create(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: CreateBody = req.json()?;
    let input = CreateAppInstanceUser {
        app_instance_arn: b.app_instance_arn,
        user_id: b.app_instance_user_id,
        name: b.name,
        metadata: b.metadata,
        client_request_token: b.client_request_token,
        tags: tag_inputs(b.tags),
        expiration: b.expiration_settings.map(ExpirationDto::input),
    };
    let arn = s.create_app_instance_user(&req.caller, input).await?;
    Reply::json(&ArnReply {
        app_instance_user_arn: arn,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeReply {
    app_instance_user: AppInstanceUserDto,
}

pub(super) async fn describe(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let u = s
        .describe_app_instance_user(&req.caller, req.label(USER))
        .await?;
    Reply::json(&DescribeReply {
        app_instance_user: AppInstanceUserDto::of(s.arns(), u),
    })
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListReply {
    app_instance_arn: String,
    app_instance_users: Vec<AppInstanceUserSummaryDto>,
    next_token: Option<String>,
}

pub(super) async fn list(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let app = req.query("app-instance-arn");
    let page = s
        .list_app_instance_users(&req.caller, app, max, req.query("next-token"))
        .await?;
    Reply::json(&ListReply {
        app_instance_arn: app.unwrap_or_default().to_string(),
        app_instance_users: page
            .items
            .into_iter()
            .map(|u| AppInstanceUserSummaryDto::of(s.arns(), u))
            .collect(),
        next_token: page.next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateBody {
    name: Option<String>,
    metadata: Option<String>,
}

pub(super) async fn update(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: UpdateBody = req.json()?;
    let input = UpdateAppInstanceUser {
        name: b.name,
        metadata: b.metadata,
    };
    let arn = s
        .update_app_instance_user(&req.caller, req.label(USER), input)
        .await?;
    Reply::json(&ArnReply {
        app_instance_user_arn: arn,
    })
}

pub(super) async fn delete(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_app_instance_user(&req.caller, req.label(USER))
        .await?;
    Ok(Reply::Empty)
}
