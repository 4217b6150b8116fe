//! Every operation of AWS's models that Belfry does not implement, called through the official
//! SDKs with minimal valid inputs: 501 `NotImplementedException` naming the operation, sent
//! once (the SDK, with standard retries on, does not try again).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_chimesdkidentity as identity;
use aws_sdk_chimesdkmessaging as messaging;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::harness::{TestServer, ADMIN_KEY, ADMIN_SECRET, REGION};

/// Counts the requests the SDK puts on the wire: one per attempt, retries included.
#[derive(Debug, Clone, Default)]
struct Attempts(Arc<AtomicUsize>);

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "count attempts"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Attempts {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

/// Standard retries, three attempts, short backoff: what an application would run with.
fn retry() -> messaging::config::retry::RetryConfig {
    messaging::config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn clients(endpoint: &str, attempts: &Attempts) -> (identity::Client, messaging::Client) {
    let id = identity::Config::builder()
        .behavior_version(identity::config::BehaviorVersion::latest())
        .region(identity::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(identity::config::Credentials::new(
            ADMIN_KEY,
            ADMIN_SECRET,
            None,
            None,
            "test",
        ))
        .retry_config(retry())
        .interceptor(attempts.clone())
        .build();
    let msg = messaging::Config::builder()
        .behavior_version(messaging::config::BehaviorVersion::latest())
        .region(messaging::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(messaging::config::Credentials::new(
            ADMIN_KEY,
            ADMIN_SECRET,
            None,
            None,
            "test",
        ))
        .retry_config(retry())
        .interceptor(attempts.clone())
        .build();
    (
        identity::Client::from_conf(id),
        messaging::Client::from_conf(msg),
    )
}

/// The 501 for `op`, from exactly one request.
fn assert_not_implemented<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    op: &str,
    result: Result<T, SdkError<E, Response>>,
    attempts: &Attempts,
) {
    let err = result.expect_err(op);
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(501), "{op}: {err:?}");
    let err = err
        .as_service_error()
        .unwrap_or_else(|| panic!("{op}: not a service error"));
    assert_eq!(err.code(), Some("NotImplementedException"), "{op}: {err:?}");
    assert_eq!(
        err.message(),
        Some(format!("Belfry does not implement {op} yet.").as_str()),
        "{op}"
    );
    assert_eq!(attempts.take(), 1, "{op} was sent more than once");
}

const APP: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a";
const USER: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a/user/u";
const BOT: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a/bot/b";
const CHANNEL: &str = "arn:aws:chime:us-east-1:000000000000:app-instance/a/channel/c";
const FLOW: &str = "arn:aws:chime:us-east-1:000000000000:channel-flow/f";
const LAMBDA: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

#[tokio::test]
async fn every_identity_operation_belfry_lacks_answers_501_once() {
    use identity::types::{
        AppInstanceRetentionSettings, AppInstanceUserEndpointType, Configuration,
        EndpointAttributes, LexConfiguration,
    };
    let s = TestServer::start().await;
    let n = Attempts::default();
    let (id, _) = clients(&s.endpoint, &n);
    let lex = LexConfiguration::builder()
        .lex_bot_alias_arn("arn:aws:lex:us-east-1:000000000000:bot-alias/B/A")
        .locale_id("en_US")
        .build()
        .unwrap();
    let r = id
        .create_app_instance_bot()
        .app_instance_arn(APP)
        .client_request_token("token-1")
        .configuration(Configuration::builder().lex(lex).build())
        .send()
        .await;
    assert_not_implemented("CreateAppInstanceBot", r, &n);
    let r = id
        .list_app_instance_bots()
        .app_instance_arn(APP)
        .send()
        .await;
    assert_not_implemented("ListAppInstanceBots", r, &n);
    let r = id
        .describe_app_instance_bot()
        .app_instance_bot_arn(BOT)
        .send()
        .await;
    assert_not_implemented("DescribeAppInstanceBot", r, &n);
    let r = id
        .update_app_instance_bot()
        .app_instance_bot_arn(BOT)
        .name("bot")
        .metadata("")
        .send()
        .await;
    assert_not_implemented("UpdateAppInstanceBot", r, &n);
    let r = id
        .delete_app_instance_bot()
        .app_instance_bot_arn(BOT)
        .send()
        .await;
    assert_not_implemented("DeleteAppInstanceBot", r, &n);

    let r = id
        .register_app_instance_user_endpoint()
        .app_instance_user_arn(USER)
        .r#type(AppInstanceUserEndpointType::Gcm)
        .resource_arn("arn:aws:mobiletargeting:us-east-1:000000000000:apps/x")
        .endpoint_attributes(
            EndpointAttributes::builder()
                .device_token("device")
                .build()
                .unwrap(),
        )
        .client_request_token("token-2")
        .send()
        .await;
    assert_not_implemented("RegisterAppInstanceUserEndpoint", r, &n);
    let r = id
        .list_app_instance_user_endpoints()
        .app_instance_user_arn(USER)
        .send()
        .await;
    assert_not_implemented("ListAppInstanceUserEndpoints", r, &n);
    let r = id
        .describe_app_instance_user_endpoint()
        .app_instance_user_arn(USER)
        .endpoint_id("e")
        .send()
        .await;
    assert_not_implemented("DescribeAppInstanceUserEndpoint", r, &n);
    let r = id
        .update_app_instance_user_endpoint()
        .app_instance_user_arn(USER)
        .endpoint_id("e")
        .send()
        .await;
    assert_not_implemented("UpdateAppInstanceUserEndpoint", r, &n);
    let r = id
        .deregister_app_instance_user_endpoint()
        .app_instance_user_arn(USER)
        .endpoint_id("e")
        .send()
        .await;
    assert_not_implemented("DeregisterAppInstanceUserEndpoint", r, &n);

    let r = id
        .get_app_instance_retention_settings()
        .app_instance_arn(APP)
        .send()
        .await;
    assert_not_implemented("GetAppInstanceRetentionSettings", r, &n);
    let r = id
        .put_app_instance_retention_settings()
        .app_instance_arn(APP)
        .app_instance_retention_settings(AppInstanceRetentionSettings::builder().build())
        .send()
        .await;
    assert_not_implemented("PutAppInstanceRetentionSettings", r, &n);
    let r = id
        .put_app_instance_user_expiration_settings()
        .app_instance_user_arn(USER)
        .send()
        .await;
    assert_not_implemented("PutAppInstanceUserExpirationSettings", r, &n);
}

#[tokio::test]
async fn every_messaging_operation_belfry_lacks_answers_501_once() {
    use messaging::types::{
        ChannelMembershipPreferences, ChannelMessageCallback, FallbackAction, InvocationType,
        LambdaConfiguration, MessagingDataType, Processor, ProcessorConfiguration, SearchField,
        SearchFieldKey, SearchFieldOperator, StreamingConfiguration,
    };
    let s = TestServer::start().await;
    let n = Attempts::default();
    let (_, m) = clients(&s.endpoint, &n);
    let processor = Processor::builder()
        .name("p")
        .configuration(
            ProcessorConfiguration::builder()
                .lambda(
                    LambdaConfiguration::builder()
                        .resource_arn(LAMBDA)
                        .invocation_type(InvocationType::Async)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .execution_order(1)
        .fallback_action(FallbackAction::Continue)
        .build()
        .unwrap();

    let r = m
        .create_channel_flow()
        .app_instance_arn(APP)
        .processors(processor.clone())
        .name("flow")
        .client_request_token("token-1")
        .send()
        .await;
    assert_not_implemented("CreateChannelFlow", r, &n);
    let r = m.list_channel_flows().app_instance_arn(APP).send().await;
    assert_not_implemented("ListChannelFlows", r, &n);
    let r = m
        .describe_channel_flow()
        .channel_flow_arn(FLOW)
        .send()
        .await;
    assert_not_implemented("DescribeChannelFlow", r, &n);
    let r = m
        .update_channel_flow()
        .channel_flow_arn(FLOW)
        .processors(processor)
        .name("flow")
        .send()
        .await;
    assert_not_implemented("UpdateChannelFlow", r, &n);
    let r = m.delete_channel_flow().channel_flow_arn(FLOW).send().await;
    assert_not_implemented("DeleteChannelFlow", r, &n);
    let r = m
        .associate_channel_flow()
        .channel_arn(CHANNEL)
        .channel_flow_arn(FLOW)
        .chime_bearer(USER)
        .send()
        .await;
    assert_not_implemented("AssociateChannelFlow", r, &n);
    let r = m
        .disassociate_channel_flow()
        .channel_arn(CHANNEL)
        .channel_flow_arn(FLOW)
        .chime_bearer(USER)
        .send()
        .await;
    assert_not_implemented("DisassociateChannelFlow", r, &n);
    let r = m
        .channel_flow_callback()
        .callback_id("callback-1")
        .channel_arn(CHANNEL)
        .channel_message(
            ChannelMessageCallback::builder()
                .message_id("m")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_not_implemented("ChannelFlowCallback", r, &n);
    let r = m
        .list_channels_associated_with_channel_flow()
        .channel_flow_arn(FLOW)
        .send()
        .await;
    assert_not_implemented("ListChannelsAssociatedWithChannelFlow", r, &n);

    let r = m
        .get_messaging_streaming_configurations()
        .app_instance_arn(APP)
        .send()
        .await;
    assert_not_implemented("GetMessagingStreamingConfigurations", r, &n);
    let r = m
        .put_messaging_streaming_configurations()
        .app_instance_arn(APP)
        .streaming_configurations(
            StreamingConfiguration::builder()
                .data_type(MessagingDataType::ChannelMessage)
                .resource_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_not_implemented("PutMessagingStreamingConfigurations", r, &n);
    let r = m
        .delete_messaging_streaming_configurations()
        .app_instance_arn(APP)
        .send()
        .await;
    assert_not_implemented("DeleteMessagingStreamingConfigurations", r, &n);

    let r = m
        .get_channel_membership_preferences()
        .channel_arn(CHANNEL)
        .member_arn(USER)
        .chime_bearer(USER)
        .send()
        .await;
    assert_not_implemented("GetChannelMembershipPreferences", r, &n);
    let r = m
        .put_channel_membership_preferences()
        .channel_arn(CHANNEL)
        .member_arn(USER)
        .chime_bearer(USER)
        .preferences(ChannelMembershipPreferences::builder().build())
        .send()
        .await;
    assert_not_implemented("PutChannelMembershipPreferences", r, &n);
    let r = m
        .get_channel_message_status()
        .channel_arn(CHANNEL)
        .message_id("m")
        .chime_bearer(USER)
        .send()
        .await;
    assert_not_implemented("GetChannelMessageStatus", r, &n);
    let r = m
        .list_sub_channels()
        .channel_arn(CHANNEL)
        .chime_bearer(USER)
        .send()
        .await;
    assert_not_implemented("ListSubChannels", r, &n);
    let r = m
        .put_channel_expiration_settings()
        .channel_arn(CHANNEL)
        .send()
        .await;
    assert_not_implemented("PutChannelExpirationSettings", r, &n);
    let r = m
        .search_channels()
        .fields(
            SearchField::builder()
                .key(SearchFieldKey::Members)
                .values(USER)
                .operator(SearchFieldOperator::Equals)
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_not_implemented("SearchChannels", r, &n);
}

/// The counter sees retries: against a port nobody listens on, the same clients try three
/// times. So the single attempts above are the SDK choosing not to retry a 501.
#[tokio::test]
async fn the_attempt_counter_sees_retries() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let n = Attempts::default();
    let (_, m) = clients(&endpoint, &n);
    let r = m.list_channel_flows().app_instance_arn(APP).send().await;
    assert!(r.is_err());
    assert_eq!(n.take(), 3);
}

/// Unsigned, an unimplemented operation still gets the signature error: the 501 comes after
/// the SigV4 check.
#[tokio::test]
async fn the_signature_is_checked_first() {
    let s = TestServer::start().await;
    let r = crate::raw::send(
        &s,
        "POST",
        "/channels?operation=search",
        &[],
        b"{}",
        crate::raw::Signing::None,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    let r = crate::raw::send(
        &s,
        "POST",
        "/channels?operation=search",
        &[],
        b"{}",
        crate::raw::Signing::Admin,
    )
    .await;
    assert_eq!(r.status, 501);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("NotImplementedException")
    );
    assert_eq!(r.json()["Code"], "NotImplemented");
}
