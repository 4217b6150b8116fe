//! AppInstances and their admins (Identity API).

use super::input::{check_tags, TagInput};
use super::{fingerprint, tags_part, Services};
use crate::arn::UserKey;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::events::{DomainEvent, Published};
use crate::model::{AppInstance, AppInstanceAdmin, Idempotency};
use crate::paging::{Binding, Page};
use crate::validate;

/// CreateAppInstance input; required members are checked here, not by the wire layer.
#[derive(Debug, Clone, Default)]
pub struct CreateAppInstance {
    /// Name (required).
    pub name: Option<String>,
    /// Metadata.
    pub metadata: Option<String>,
    /// ClientRequestToken (required).
    pub client_request_token: Option<String>,
    /// Tags.
    pub tags: Option<Vec<TagInput>>,
}

/// UpdateAppInstance input.
#[derive(Debug, Clone, Default)]
pub struct UpdateAppInstance {
    /// Name (required).
    pub name: Option<String>,
    /// Metadata (required).
    pub metadata: Option<String>,
}

impl Services {
    /// Resolves an AppInstance ARN in a path to an existing AppInstance id (404 if none).
    pub(crate) async fn existing_app_instance(
        &self,
        field: &str,
        arn: &str,
    ) -> CoreResult<AppInstance> {
        let parsed = self.arns.parse_app_instance(field, arn)?;
        let missing = || CoreError::not_found(format!("The AppInstance {arn} does not exist."));
        if !parsed.local {
            return Err(missing());
        }
        self.store
            .get_app_instance(&parsed.id)
            .await?
            .ok_or_else(missing)
    }

    /// CreateAppInstance.
    pub async fn create_app_instance(
        &self,
        caller: &Caller,
        input: CreateAppInstance,
    ) -> CoreResult<String> {
        caller.require_developer("CreateAppInstance")?;
        let name = validate::required("Name", input.name)?;
        validate::resource_name("Name", &name)?;
        if let Some(m) = &input.metadata {
            validate::metadata("Metadata", m)?;
        }
        let token = validate::required("ClientRequestToken", input.client_request_token)?;
        validate::client_request_token("ClientRequestToken", &token)?;
        let tags = check_tags("Tags", input.tags)?;
        let now = self.clock.now();
        let idem = Idempotency {
            scope: "CreateAppInstance".into(),
            fingerprint: fingerprint(&[
                &name,
                input.metadata.as_deref().unwrap_or(""),
                &tags_part(&tags),
            ]),
            token,
        };
        let app = AppInstance {
            id: crate::ids::app_instance_id(),
            name,
            metadata: input.metadata,
            created: now,
            updated: now,
        };
        let created = self
            .store
            .create_app_instance(app, tags, idem, self.limits.app_instances)
            .await?;
        Ok(self.arns.app_instance(&created.id))
    }

    /// DescribeAppInstance.
    pub async fn describe_app_instance(
        &self,
        caller: &Caller,
        arn: &str,
    ) -> CoreResult<AppInstance> {
        caller.require_developer("DescribeAppInstance")?;
        self.existing_app_instance("AppInstanceArn", arn).await
    }

    /// ListAppInstances.
    pub async fn list_app_instances(
        &self,
        caller: &Caller,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<AppInstance>> {
        caller.require_developer("ListAppInstances")?;
        let binding = Binding::new(&["ListAppInstances", &caller.access_key_id]);
        self.seq_page(
            binding,
            max_results,
            next_token,
            || Ok(()),
            |after, limit| self.store.list_app_instances(after, limit),
        )
        .await
    }

    /// UpdateAppInstance.
    pub async fn update_app_instance(
        &self,
        caller: &Caller,
        arn: &str,
        input: UpdateAppInstance,
    ) -> CoreResult<String> {
        caller.require_developer("UpdateAppInstance")?;
        let name = validate::required("Name", input.name)?;
        validate::resource_name("Name", &name)?;
        let metadata = validate::required("Metadata", input.metadata)?;
        validate::metadata("Metadata", &metadata)?;
        let app = self.existing_app_instance("AppInstanceArn", arn).await?;
        self.store
            .update_app_instance(&app.id, name, metadata, self.clock.now())
            .await?;
        Ok(self.arns.app_instance(&app.id))
    }

    /// DeleteAppInstance: everything inside goes with it. One event says so (its users'
    /// sessions end); nothing inside is published one by one.
    pub async fn delete_app_instance(&self, caller: &Caller, arn: &str) -> CoreResult<()> {
        caller.require_developer("DeleteAppInstance")?;
        let app = self.existing_app_instance("AppInstanceArn", arn).await?;
        self.store.delete_app_instance(&app.id).await?;
        self.events
            .publish(Published::unordered(DomainEvent::AppInstanceDeleted {
                app_instance_id: app.id,
            }));
        Ok(())
    }

    /// Resolves `AppInstanceAdminArn` to a user of `app_instance_id`. A path label naming a
    /// missing user is a 404; a body member naming one is a 400.
    async fn admin_candidate(
        &self,
        app_instance_id: &str,
        arn: &str,
        in_path: bool,
    ) -> CoreResult<UserKey> {
        let parsed = self.arns.parse_user("AppInstanceAdminArn", arn)?;
        let missing = || {
            let msg = format!("The AppInstanceUser {arn} does not exist in this AppInstance.");
            if in_path {
                CoreError::NotFound(msg)
            } else {
                CoreError::BadRequest(msg)
            }
        };
        if !parsed.local || parsed.id.app_instance_id != app_instance_id {
            return Err(missing());
        }
        if self.store.get_user(&parsed.id).await?.is_none() {
            return Err(missing());
        }
        Ok(parsed.id)
    }

    /// CreateAppInstanceAdmin: returns the new admin.
    pub async fn create_app_instance_admin(
        &self,
        caller: &Caller,
        app_arn: &str,
        admin_arn: Option<String>,
    ) -> CoreResult<AppInstanceAdmin> {
        caller.require_developer("CreateAppInstanceAdmin")?;
        let admin_arn = validate::required("AppInstanceAdminArn", admin_arn)?;
        validate::chime_arn("AppInstanceAdminArn", &admin_arn)?;
        let app = self
            .existing_app_instance("AppInstanceArn", app_arn)
            .await?;
        let key = self.admin_candidate(&app.id, &admin_arn, false).await?;
        Ok(self
            .store
            .create_admin(&key, self.clock.now(), self.limits.admins_per_app_instance)
            .await?)
    }

    /// DescribeAppInstanceAdmin: 404 when the user is not an admin.
    pub async fn describe_app_instance_admin(
        &self,
        caller: &Caller,
        app_arn: &str,
        admin_arn: &str,
    ) -> CoreResult<AppInstanceAdmin> {
        caller.require_developer("DescribeAppInstanceAdmin")?;
        validate::chime_arn("AppInstanceAdminArn", admin_arn)?;
        let app = self
            .existing_app_instance("AppInstanceArn", app_arn)
            .await?;
        let key = self.admin_candidate(&app.id, admin_arn, true).await?;
        self.store.get_admin(&key).await?.ok_or_else(|| {
            CoreError::not_found(format!(
                "{admin_arn} is not an AppInstanceAdmin of {app_arn}."
            ))
        })
    }

    /// ListAppInstanceAdmins.
    pub async fn list_app_instance_admins(
        &self,
        caller: &Caller,
        app_arn: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<AppInstanceAdmin>> {
        caller.require_developer("ListAppInstanceAdmins")?;
        let app = self
            .existing_app_instance("AppInstanceArn", app_arn)
            .await?;
        let binding = Binding::new(&["ListAppInstanceAdmins", &app.id, &caller.access_key_id]);
        self.seq_page(
            binding,
            max_results,
            next_token,
            || Ok(()),
            |after, limit| self.store.list_admins(&app.id, after, limit),
        )
        .await
    }

    /// DeleteAppInstanceAdmin: demotes; the user stays.
    pub async fn delete_app_instance_admin(
        &self,
        caller: &Caller,
        app_arn: &str,
        admin_arn: &str,
    ) -> CoreResult<()> {
        caller.require_developer("DeleteAppInstanceAdmin")?;
        validate::chime_arn("AppInstanceAdminArn", admin_arn)?;
        let app = self
            .existing_app_instance("AppInstanceArn", app_arn)
            .await?;
        let key = self.admin_candidate(&app.id, admin_arn, true).await?;
        Ok(self.store.delete_admin(&key).await?)
    }
}
