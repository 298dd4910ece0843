//! Where the hub's simulators listen, which folders its batch areas exchange files through,
//! and where its connectors point: as configured for a machine, or isolated for a test.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Settings;
use crate::connector::definition::ConnectorDefinition;
use crate::domain::Area;
use crate::wire::ProtocolFamily;
use crate::{connector, tso_sim};

/// Where [`super::start`] puts the simulators and where it points the connectors.
#[derive(Debug, Clone)]
pub enum Placement {
    /// As configured (`kirikae up`, `kirikae tso-sim`): simulators on `sim_base_port + area`,
    /// batch desks on the definitions' folders, connectors at the definitions' endpoints.
    Configured,
    /// Isolated (tests): simulators on free local ports, batch folders under
    /// `batch_root/<area>`, connectors pointed at the simulators started.
    Isolated { batch_root: PathBuf },
}

impl Placement {
    /// Where `area`'s simulator listens.
    pub fn sim_listen(&self, settings: &Settings, area: Area) -> SocketAddr {
        match self {
            Placement::Configured => {
                SocketAddr::from(([127, 0, 0, 1], settings.sim_base_port + area.number()))
            }
            Placement::Isolated { .. } => SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// The folder `area`'s files are exchanged through, if its definition names the batch
    /// family.
    pub fn batch_folder(&self, settings: &Settings, area: Area) -> anyhow::Result<Option<PathBuf>> {
        let def = ConnectorDefinition::load(&settings.connectors_dir, area)?;
        if def.protocol != ProtocolFamily::Batch {
            return Ok(None);
        }
        Ok(Some(match self {
            Placement::Configured => connector::batch::folder_of(&def.endpoint)?,
            Placement::Isolated { batch_root } => batch_root.join(area.code()),
        }))
    }

    /// The endpoint of `area`'s connector whose simulator listens on `addr`, in the family
    /// its definition names; `None` keeps the definition's own.
    pub fn endpoint(
        &self,
        settings: &Settings,
        area: Area,
        addr: SocketAddr,
    ) -> anyhow::Result<Option<String>> {
        if let Placement::Configured = self {
            return Ok(None);
        }
        let def = ConnectorDefinition::load(&settings.connectors_dir, area)?;
        Ok(Some(match self.batch_folder(settings, area)? {
            Some(dir) => format!("file://{}", dir.display()),
            None => tso_sim::endpoint(addr, def.protocol),
        }))
    }
}
