//! AppInstanceUsers (Identity API).

use super::input::{check_expiration, check_tags, ExpirationInput, TagInput};
use super::{expiration_part, fingerprint, tags_part, Services};
use crate::arn::UserKey;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::events::{DomainEvent, Published};
use crate::model::{AppInstanceUser, ExpirationCriterion, Idempotency};
use crate::paging::{Binding, Page};
use crate::store::missing_app_instance_for_user;
use crate::validate;

/// CreateAppInstanceUser input.
#[derive(Debug, Clone, Default)]
pub struct CreateAppInstanceUser {
    /// AppInstanceArn (required).
    pub app_instance_arn: Option<String>,
    /// AppInstanceUserId (required).
    pub user_id: Option<String>,
    /// Name (required).
    pub name: Option<String>,
    /// Metadata.
    pub metadata: Option<String>,
    /// ClientRequestToken (required).
    pub client_request_token: Option<String>,
    /// Tags.
    pub tags: Option<Vec<TagInput>>,
    /// ExpirationSettings.
    pub expiration: Option<ExpirationInput>,
}

/// UpdateAppInstanceUser input.
#[derive(Debug, Clone, Default)]
pub struct UpdateAppInstanceUser {
    /// Name (required).
    pub name: Option<String>,
    /// Metadata (required).
    pub metadata: Option<String>,
}

impl Services {
    /// Resolves a user ARN in a path to an existing user (404 if none).
    async fn existing_user(&self, field: &str, arn: &str) -> CoreResult<AppInstanceUser> {
        let parsed = self.arns.parse_user(field, arn)?;
        let missing = || CoreError::not_found(format!("The AppInstanceUser {arn} does not exist."));
        if !parsed.local {
            return Err(missing());
        }
        self.store.get_user(&parsed.id).await?.ok_or_else(missing)
    }

    /// CreateAppInstanceUser.
    pub async fn create_app_instance_user(
        &self,
        caller: &Caller,
        input: CreateAppInstanceUser,
    ) -> CoreResult<String> {
        caller.require_developer("CreateAppInstanceUser")?;
        let app_arn = validate::required("AppInstanceArn", input.app_instance_arn)?;
        let app = self.arns.parse_app_instance("AppInstanceArn", &app_arn)?;
        let user_id = validate::required("AppInstanceUserId", input.user_id)?;
        validate::resource_id("AppInstanceUserId", &user_id)?;
        let name = validate::required("Name", input.name)?;
        validate::user_name("Name", &name)?;
        if let Some(m) = &input.metadata {
            validate::metadata("Metadata", m)?;
        }
        let token = validate::required("ClientRequestToken", input.client_request_token)?;
        validate::client_request_token("ClientRequestToken", &token)?;
        let tags = check_tags("Tags", input.tags)?;
        let expiration =
            check_expiration(input.expiration, &[ExpirationCriterion::CreatedTimestamp])?;
        if !app.local || self.store.get_app_instance(&app.id).await?.is_none() {
            return Err(missing_app_instance_for_user(&app_arn));
        }
        let now = self.clock.now();
        let idem = Idempotency {
            scope: format!("CreateAppInstanceUser/{}", app.id),
            fingerprint: fingerprint(&[
                &user_id,
                &name,
                input.metadata.as_deref().unwrap_or(""),
                &tags_part(&tags),
                &expiration_part(expiration),
            ]),
            token,
        };
        let app_instance_id = app.id;
        let user = AppInstanceUser {
            key: UserKey {
                app_instance_id: app_instance_id.clone(),
                user_id,
            },
            name,
            metadata: input.metadata,
            created: now,
            updated: now,
            expiration,
        };
        let created = self
            .store
            .create_user(user, tags, idem, self.limits.users_per_app_instance)
            .await
            // The AppInstance may be deleted after the check above: the same answer either way.
            .map_err(|fact| fact.for_create_user(&app_arn))?;
        Ok(self.arns.user(&app_instance_id, &created.id))
    }

    /// DescribeAppInstanceUser.
    pub async fn describe_app_instance_user(
        &self,
        caller: &Caller,
        arn: &str,
    ) -> CoreResult<AppInstanceUser> {
        caller.require_developer("DescribeAppInstanceUser")?;
        self.existing_user("AppInstanceUserArn", arn).await
    }

    /// ListAppInstanceUsers.
    pub async fn list_app_instance_users(
        &self,
        caller: &Caller,
        app_arn: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<AppInstanceUser>> {
        caller.require_developer("ListAppInstanceUsers")?;
        let app_arn = validate::required("AppInstanceArn", app_arn)?;
        let app = self
            .existing_app_instance("AppInstanceArn", app_arn)
            .await?;
        let binding = Binding::new(&["ListAppInstanceUsers", &app.id, &caller.access_key_id]);
        self.seq_page(
            binding,
            max_results,
            next_token,
            || Ok(()),
            |after, limit| self.store.list_users(&app.id, after, limit),
        )
        .await
    }

    /// UpdateAppInstanceUser.
    pub async fn update_app_instance_user(
        &self,
        caller: &Caller,
        arn: &str,
        input: UpdateAppInstanceUser,
    ) -> CoreResult<String> {
        caller.require_developer("UpdateAppInstanceUser")?;
        let name = validate::required("Name", input.name)?;
        validate::user_name("Name", &name)?;
        let metadata = validate::required("Metadata", input.metadata)?;
        validate::metadata("Metadata", &metadata)?;
        let user = self.existing_user("AppInstanceUserArn", arn).await?;
        self.store
            .update_user(&user.key, name, metadata, self.clock.now())
            .await?;
        Ok(self.arns.user(&user.key.app_instance_id, &user.key.user_id))
    }

    /// DeleteAppInstanceUser: memberships, moderator roles, bans and the admin role go too.
    /// One event says so (its sessions end); the memberships it removed are not published one
    /// by one.
    pub async fn delete_app_instance_user(&self, caller: &Caller, arn: &str) -> CoreResult<()> {
        caller.require_developer("DeleteAppInstanceUser")?;
        let user = self.existing_user("AppInstanceUserArn", arn).await?;
        self.store.delete_user(&user.key).await?;
        self.events
            .publish(Published::unordered(DomainEvent::UserDeleted(user.key)));
        Ok(())
    }
}
