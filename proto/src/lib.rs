//! The secrets gateway's gRPC service (`secretsgateway.v1.Secrets`), generated from
//! [`secretsgateway/v1/secrets.proto`](../secretsgateway/v1/secrets.proto): the messages, the
//! server trait the gateway implements and the client the client library wraps.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("secretsgateway.v1");

/// The encoded `FileDescriptorSet` of the .proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("secrets_descriptor");
