//! `serve --demo`: one client per role over the demo data, with fresh secrets each start.

use entities::{
    enums::{Department, OrganisationKind},
    organisation,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::clients::{self, NewClient};
use crate::principal::{Role, Scope};

/// A demo client and the secret it got this time.
pub struct DemoClient {
    pub client_id: String,
    pub role: Role,
    pub secret: String,
}

/// Chhattisgarh and Madhya Pradesh, Raipur district (LGD codes of the demo data).
const DEMO_STATES: [i32; 2] = [22, 23];
const DEMO_DISTRICTS: [i32; 1] = [387];

async fn first_org(
    db: &DatabaseConnection,
    kind: OrganisationKind,
    dept: Option<Department>,
) -> anyhow::Result<Option<String>> {
    let mut q = organisation::Entity::find().filter(organisation::Column::Kind.eq(kind));
    if let Some(d) = dept {
        q = q.filter(organisation::Column::Department.eq(d));
    }
    Ok(q.order_by_asc(organisation::Column::Id)
        .one(db)
        .await?
        .map(|o| o.code))
}

pub async fn ensure_clients(db: &DatabaseConnection) -> anyhow::Result<Vec<DemoClient>> {
    let health = first_org(db, OrganisationKind::Department, Some(Department::Health)).await?;
    let partner = first_org(db, OrganisationKind::SectorPartner, None).await?;
    let agency = first_org(db, OrganisationKind::InspectionAgency, None).await?;
    let mut plans = vec![
        (
            "demo-state-admin",
            Role::StateAdmin,
            None,
            DEMO_STATES.to_vec(),
            vec![],
        ),
        (
            "demo-district-coordinator",
            Role::DistrictCoordinator,
            None,
            vec![],
            DEMO_DISTRICTS.to_vec(),
        ),
        (
            "demo-department",
            Role::Department,
            health,
            vec![DEMO_STATES[0]],
            vec![],
        ),
        ("demo-partner", Role::Partner, partner, vec![], vec![]),
        ("demo-dashboard", Role::Dashboard, None, vec![], vec![]),
    ];
    // A database seeded before scheme works has no inspection agency to name.
    if agency.is_some() {
        plans.push((
            "demo-inspection-agency",
            Role::InspectionAgency,
            agency,
            vec![],
            vec![],
        ));
    }
    let mut out = Vec::new();
    for (client_id, role, org, states, districts) in plans {
        let secret = match clients::find(db, client_id).await? {
            Some(_) => clients::rotate_secret(db, client_id).await?,
            None => {
                let new = NewClient {
                    client_id: Some(client_id.to_owned()),
                    name: format!("Demo {}", role.as_str().replace('_', " ")),
                    role,
                    organisation: org,
                    states,
                    districts,
                    scopes: role
                        .allowed_scopes()
                        .iter()
                        .copied()
                        .collect::<std::collections::BTreeSet<Scope>>(),
                };
                clients::add(db, new).await?.1
            }
        };
        out.push(DemoClient {
            client_id: client_id.to_owned(),
            role,
            secret,
        });
    }
    Ok(out)
}
