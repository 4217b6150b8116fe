//! CreateAppInstance … DeleteAppInstanceAdmin.

use belfry_core::service::{CreateAppInstance, UpdateAppInstance};
use belfry_core::Services;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::Reply;
use crate::dto::{
    tag_inputs, AppInstanceAdminDto, AppInstanceDto, AppInstanceSummaryDto, Identity, TagDto,
};
use crate::error::ApiError;
use crate::request::ApiRequest;

const APP: &str = "appInstanceArn";
const ADMIN: &str = "appInstanceAdminArn";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateBody {
    name: Option<String>,
    metadata: Option<String>,
    client_request_token: Option<String>,
    tags: Option<Vec<TagDto>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArnReply {
    app_instance_arn: String,
}

pub(super) async fn create(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: CreateBody = req.json()?;
    let input = CreateAppInstance {
        name: b.name,
        metadata: b.metadata,
        client_request_token: b.client_request_token,
        tags: tag_inputs(b.tags),
    };
    let arn = s.create_app_instance(&req.caller, input).await?;
    Reply::json(&ArnReply {
        app_instance_arn: arn,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeReply {
    app_instance: AppInstanceDto,
}

pub(super) async fn describe(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let a = s.describe_app_instance(&req.caller, req.label(APP)).await?;
    Reply::json(&DescribeReply {
        app_instance: AppInstanceDto::of(s.arns(), a),
    })
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListReply {
    app_instances: Vec<AppInstanceSummaryDto>,
    next_token: Option<String>,
}

pub(super) async fn list(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_app_instances(&req.caller, max, req.query("next-token"))
        .await?;
    Reply::json(&ListReply {
        app_instances: page
            .items
            .into_iter()
            .map(|a| AppInstanceSummaryDto::of(s.arns(), a))
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
    let input = UpdateAppInstance {
        name: b.name,
        metadata: b.metadata,
    };
    let arn = s
        .update_app_instance(&req.caller, req.label(APP), input)
        .await?;
    Reply::json(&ArnReply {
        app_instance_arn: arn,
    })
}

pub(super) async fn delete(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_app_instance(&req.caller, req.label(APP)).await?;
    Ok(Reply::Empty)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateAdminBody {
    app_instance_admin_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAdminReply {
    app_instance_admin: Identity,
    app_instance_arn: String,
}

pub(super) async fn create_admin(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: CreateAdminBody = req.json()?;
    let admin = s
        .create_app_instance_admin(&req.caller, req.label(APP), b.app_instance_admin_arn)
        .await?;
    Reply::json(&CreateAdminReply {
        app_instance_arn: s.arns().app_instance(&admin.admin.key.app_instance_id),
        app_instance_admin: Identity::of(s.arns(), &admin.admin),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAdminReply {
    app_instance_admin: AppInstanceAdminDto,
}

pub(super) async fn describe_admin(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let admin = s
        .describe_app_instance_admin(&req.caller, req.label(APP), req.label(ADMIN))
        .await?;
    Reply::json(&DescribeAdminReply {
        app_instance_admin: AppInstanceAdminDto::of(s.arns(), admin),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AdminSummary {
    admin: Identity,
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListAdminsReply {
    app_instance_arn: String,
    app_instance_admins: Vec<AdminSummary>,
    next_token: Option<String>,
}

pub(super) async fn list_admins(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_app_instance_admins(&req.caller, req.label(APP), max, req.query("next-token"))
        .await?;
    Reply::json(&ListAdminsReply {
        app_instance_arn: req.label(APP).to_string(),
        app_instance_admins: page
            .items
            .iter()
            .map(|a| AdminSummary {
                admin: Identity::of(s.arns(), &a.admin),
            })
            .collect(),
        next_token: page.next_token,
    })
}

pub(super) async fn delete_admin(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_app_instance_admin(&req.caller, req.label(APP), req.label(ADMIN))
        .await?;
    Ok(Reply::Empty)
}
