//! The web adapter: routes, JSON errors and the server.

mod health;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpServer, dev::Server, web};

use crate::keystore::KeySet;

/// Everything handlers need, built once at start-up (no globals).
#[derive(Debug)]
pub struct AppState {
    pub keys: KeySet,
}

/// Registers every route on an actix `ServiceConfig`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
}

/// Binds `addr` and returns the running server and the bound address (port
/// 0 picks a free port).
pub fn bind(state: Arc<AppState>, addr: SocketAddr) -> std::io::Result<(Server, SocketAddr)> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::Logger::new("%U %s %Dms").log_target("digital_id::http"))
            .configure(configure)
    })
    .workers(std::thread::available_parallelism().map_or(2, |n| n.get()))
    .listen(listener)?
    .run();
    Ok((server, local))
}
